"""locust load that runs in the background while the harness does something else (e.g. restarts
the proxy), and stops when the harness says so.

:func:`run_load` blocks for a run whose length is known up front. A disruption test wants load
that is already flowing when it acts, and that ends a few seconds after traffic recovered, which
it only knows afterwards. So here: :func:`start` the runs (several at once: their pods start in
parallel), :meth:`BackgroundLoad.wait_requests` until the master announced requests
(``PROXYLAB-LOADGEN-STARTED``, its first worker report with requests in it), act, then
:meth:`BackgroundLoad.stop` or :func:`stop_all` (the harness creates the master's ``--pl-stop-file``; the master
quits as at the end of ``--run-time``, so the workers' last reports are merged) and read the
result as :func:`run_load` does. ``spec.duration_s`` stays the hard cap.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from proxylab import kube
from proxylab.errors import WaitTimeout
from proxylab.images.catalog import cluster_catalog
from proxylab.wait import wait_for

from . import pods
from .errors import LoadRunFailed
from .result import LoadResult, from_raw
from .runner import START_TIMEOUT_S, cleanup, diagnose, parse_master_log, pod_phase, worker_nodes
from .spec import LoadSpec

STARTED_MARKER = "PROXYLAB-LOADGEN-STARTED "
STOP_FILE = "/tmp/proxylab-stop"  # the master's /tmp is an emptyDir (read-only root otherwise)


@dataclass(frozen=True)
class TimedResult:
    """A run's result and the epoch second its timeline starts at (``Second.t`` counts from it),
    so the timeline can be set against events of the harness (kind nodes share the host clock)."""

    result: LoadResult
    first_second: int | None  # None: no request at all


def started_second(log: str) -> int | None:
    """The epoch second of the first requests, from the master's STARTED line; None before it."""
    for line in log.splitlines():
        if line.startswith(STARTED_MARKER):
            return int(line[len(STARTED_MARKER):].split()[0])
    return None


def first_second(raw: dict[str, Any]) -> int | None:
    seconds = raw.get("seconds") or {}
    return min(int(k) for k in seconds) if seconds else None


@dataclass
class BackgroundLoad:
    """One run started by :func:`start`; always :meth:`stop` or :meth:`discard` it."""

    api: client.ApiClient
    namespace: str
    spec: LoadSpec
    run_id: str
    started: float = field(default_factory=time.monotonic)
    first_requests_s: float | None = None  # harness seconds from start() to the STARTED line

    @property
    def master(self) -> str:
        return f"lg-{self.run_id}-master"

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def _ended(self) -> str | None:
        phase, _ = pod_phase(self.core, self.namespace, self.master)
        return phase if phase in ("Failed", "Succeeded") else None

    def wait_requests(self, timeout: float = START_TIMEOUT_S) -> int:
        """Block until the master reported requests; returns their first epoch second."""
        got: list[int] = []

        def announced() -> tuple[bool, str]:
            ended = self._ended()
            if ended:
                raise LoadRunFailed(f"locust master {self.namespace}/{self.master} ended ({ended}) before any "
                                    f"request:\n{diagnose(self.core, self.namespace, self.run_id)}")
            try:
                log: str = self.core.read_namespaced_pod_log(self.master, self.namespace)
            except client.ApiException as exc:
                return False, f"no log yet ({exc.reason})"
            sec = started_second(log)
            if sec is None:
                return False, "no request reported yet"
            got.append(sec)
            return True, "requests reported"

        try:
            wait_for(announced, timeout=timeout, what=f"locust run {self.run_id} to report requests", interval=0.5)
        except WaitTimeout:
            raise LoadRunFailed(f"locust run {self.run_id} reported no request within {timeout:.0f} s; pods:\n"
                                f"{diagnose(self.core, self.namespace, self.run_id)}") from None
        self.first_requests_s = round(time.monotonic() - self.started, 1)
        return got[0]

    def ask_stop(self) -> None:
        """Create the master's stop file; it then quits as at the end of its run time."""
        if self._ended():
            return
        res = kube.exec_in_pod(self.api, self.namespace, self.master, ["touch", STOP_FILE], timeout=30)
        if res.returncode != 0 and not self._ended():
            raise LoadRunFailed(f"could not ask locust master {self.namespace}/{self.master} to stop "
                                f"(exec exited {res.returncode}: {(res.stderr or res.stdout)[-300:]})")

    def result(self, timeout: float = 60) -> TimedResult:
        """Wait for the master's result (it prints it while quitting, before its pod has ended, so
        the log is polled rather than the pod's phase) and delete the run's objects."""
        try:
            raw: list[dict[str, Any]] = []

            def printed() -> tuple[bool, str]:
                ended = self._ended()  # first: a master that ended has written all it will
                text: str = self.core.read_namespaced_pod_log(self.master, self.namespace)
                try:
                    raw[:] = [parse_master_log(text)]
                except (LoadRunFailed, ValueError) as exc:
                    if ended:
                        raise LoadRunFailed(f"locust master {self.namespace}/{self.master} ended ({ended}) without "
                                            f"a result ({exc}); pods:\n{diagnose(self.core, self.namespace, self.run_id)}"
                                            ) from None
                    return False, "no complete result in its log yet"
                return True, "result printed"

            wait_for(printed, timeout=timeout, what=f"locust master {self.namespace}/{self.master} to print its result",
                     interval=0.5)
            got = raw[0]
            if got.get("workers_reporting", 0) < self.spec.workers:
                raise LoadRunFailed(f"only {got.get('workers_reporting')} of {self.spec.workers} locust workers "
                                    f"reported; pods:\n{diagnose(self.core, self.namespace, self.run_id)}")
            got["wall_s"] = round(time.monotonic() - self.started, 1)
            got["worker_nodes"] = worker_nodes(self.core, self.namespace, self.run_id)
            return TimedResult(from_raw(got), first_second(got))
        finally:
            self.discard()

    def stop(self, timeout: float = 60) -> TimedResult:
        """Ask the master to quit and return its result; the run's objects are deleted."""
        try:
            self.ask_stop()
        except BaseException:
            self.discard()
            raise
        return self.result(timeout)

    def discard(self) -> None:
        """Delete the run's pods and ConfigMap (no result)."""
        cleanup(self.api, self.namespace, self.run_id)


def start(api: client.ApiClient, namespace: str, specs: list[LoadSpec], image: str | None = None) -> list[BackgroundLoad]:
    """Start one locust run per spec in ``namespace``: every master first, then their workers
    (each dials its master's pod IP). Returns at once when the workers are created; the runs
    are not yet making requests (:meth:`BackgroundLoad.wait_requests`)."""
    image = image or cluster_catalog().locust
    core = client.CoreV1Api(api)
    runs = [BackgroundLoad(api, namespace, spec, uuid.uuid4().hex[:8]) for spec in specs]
    try:
        for run in runs:
            kube.apply(api, pods.configmap(run.run_id), namespace=namespace)
            master = pods.master_pod(run.run_id, image, run.spec)
            master["spec"]["containers"][0]["args"] += ["--pl-stop-file", STOP_FILE]
            kube.apply(api, master, namespace=namespace)
        for run in runs:
            ip = _master_ip(core, namespace, run)
            for i in range(run.spec.workers):
                kube.apply(api, pods.worker_pod(run.run_id, i, image, run.spec, ip), namespace=namespace)
    except BaseException:
        for run in runs:
            run.discard()
        raise
    return runs


def stop_all(runs: list[BackgroundLoad], timeout: float = 60) -> list[TimedResult]:
    """Stop several runs at about the same moment (the stop requests in parallel), then collect
    their results in order; every run's objects are deleted whatever happens."""
    try:
        with ThreadPoolExecutor(max(1, len(runs))) as pool:
            for done in [pool.submit(run.ask_stop) for run in runs]:
                done.result()
        return [run.result(timeout) for run in runs]
    finally:
        for run in runs:
            run.discard()


def _master_ip(core: client.CoreV1Api, namespace: str, run: BackgroundLoad) -> str:
    ip: list[str] = []

    def running() -> tuple[bool, str]:
        phase, pod_ip = pod_phase(core, namespace, run.master)
        if phase in ("Failed", "Succeeded"):
            raise LoadRunFailed(f"locust master {namespace}/{run.master} ended ({phase}) before workers started:\n"
                                + diagnose(core, namespace, run.run_id))
        if pod_ip and phase == "Running":
            ip[:] = [pod_ip]
            return True, phase
        return False, f"phase {phase}, ip {pod_ip}"

    wait_for(running, timeout=START_TIMEOUT_S, what=f"locust master {namespace}/{run.master} running", interval=0.5)
    return ip[0]
