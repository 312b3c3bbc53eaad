"""Kill tests: SIGKILL a run in the middle of its work, then clean up as a user would, and prove
that nothing of it is left on the host and nothing it measured was lost.

Every run here is a real `proxylab run` or pytest session in its own process group, killed with
SIGKILL as a cancelled CI job or the OOM killer would kill it (no handler runs). What must hold
afterwards (issue 12):

- what the killed session measured is intact on disk (results.json is written atomically after
  every test) and is kept aside, not overwritten, when the run continues;
- the next start-up (a new session wanting the same cluster name, or ``proxylab run --resume``)
  removes the cluster the killed run left (its recorded owner no longer runs) and goes on;
- ``proxylab cluster down --all`` leaves no cluster, node or helper container, Docker network,
  guard route or state directory (proxylab/leftovers.py is the inventory).

These tests look at host-wide leftovers, so they refuse to run beside another proxylab cluster.
Mode: iptables (any kube-proxy mode would do; the kills do not depend on the proxy).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from loadgen.pods import RUN_LABEL
from proxylab import kube, leftovers, provision
from proxylab.cluster import PREFIX, cluster_dir, kind_clusters
from proxylab.wait import wait_for

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NAME = "proxylab-killtest"
RUN_TIMEOUT_S = 900
RESTART_LIMIT_S = 600  # a session whose engine restarted must end within this (it must never hang)


@pytest.fixture(autouse=True)
def alone_on_the_host() -> Iterator[None]:
    """Refuse to run beside another proxylab cluster; remove whatever a failed test left."""
    others = [c for c in kind_clusters() if c.startswith(PREFIX)]
    if others:
        pytest.skip(f"kill tests check host-wide leftovers; other proxylab clusters exist: {others} "
                    "(remove them with `proxylab cluster down --all`)")
    yield
    if leftovers.nonempty(leftovers.host_wide()):
        _proxylab("cluster", "down", "--all")


class Session:
    """A proxylab or pytest command in its own process group, output to a log file."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the whole process group (the session and whatever it started: kind, docker, kubectl)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._out.close()

    def wait(self, timeout: float = RUN_TIMEOUT_S) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.proc.args!r} did not end within {timeout}s; log {self.log}:\n{self.output()[-3000:]}")
        self._out.close()
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None


def _proxylab(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxylab", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def _pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *args, "-m", "e2e", "--proxy-mode", "iptables", "-p", "no:cacheprovider", "-q", "-s"]


def _until(session: Session, check: Any, what: str, timeout: float = 600) -> None:
    """Wait for ``check()`` while the session runs; fail with its log if it ends first."""
    def probe() -> tuple[bool, str]:
        if not session.alive():
            pytest.fail(f"the session ended (exit {session.proc.returncode}) before {what}:\n{session.output()[-3000:]}")
        return bool(check()), what
    wait_for(probe, timeout=timeout, what=what, interval=1)


def _node_containers(name: str) -> list[str]:
    return leftovers.of_cluster(name)["node containers"]


def _api(name: str) -> client.ApiClient | None:
    path = cluster_dir(name) / "kubeconfig"
    return kube.api_client(path) if path.exists() else None


def _pods(name: str, namespace_prefix: str, label: str | None = None) -> list[str]:
    """Running pods in namespaces starting with ``namespace_prefix`` on cluster ``name``."""
    api = _api(name)
    if api is None:
        return []
    try:
        pods = client.CoreV1Api(api).list_pod_for_all_namespaces(label_selector=label).items
    except Exception:  # the API server may not answer yet: "not yet", the wait goes on
        return []
    return [p.metadata.name for p in pods if p.metadata.namespace.startswith(namespace_prefix)
            and p.status.phase == "Running"]


def _results(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _assert_nothing_left() -> None:
    left = leftovers.nonempty(leftovers.host_wide()) | leftovers.nonempty(leftovers.of_cluster(NAME))
    assert not left, f"left on the host after cleanup: {left}"


def test_pytest_killed_during_a_conformance_test_keeps_its_results_and_the_next_session_recovers(
        tmp_path: Path, metrics: dict[str, Any]) -> None:
    run_id = f"kill-{int(time.time())}"
    results = tmp_path / run_id / "iptables" / "results.json"
    args = ["--cluster-name", NAME, "--run-id", run_id, "--results-dir", str(tmp_path)]
    s = Session(_pytest("suites/conformance/test_smoke.py", "suites/conformance/test_readiness.py", *args),
                tmp_path / "killed.log")
    # Killed while test_readiness has its fixture up (its backends run in a test-readiness-* namespace).
    _until(s, lambda: results.exists() and _results(results)["tests"] and _pods(NAME, "test-readiness-"),
           "a smoke test recorded and test_readiness's backends running")
    before = _results(results)["tests"]
    s.kill()
    after_kill = _results(results)
    assert after_kill["tests"] == before and after_kill["run"]["finished"] is None, \
        "results.json changed or claims to be finished after the kill"
    assert _node_containers(NAME), "the killed session's cluster should still be there (nothing ran its teardown)"

    again = Session(_pytest("suites/conformance/test_smoke.py", *args), tmp_path / "next.log")
    code = again.wait()
    out = again.output()
    assert code == 0, out[-3000:]
    assert f"cluster {NAME}: removing it, left over from an interrupted run" in out, out[-3000:]
    kept = results.with_name("results.interrupted-1.json")
    assert _results(kept)["tests"] == before, "the killed session's results were not kept intact"
    assert _results(results)["run"]["finished"], "the next session did not finish its results"
    metrics.update(tests_kept=len(before), kept_as=kept.name)
    _assert_nothing_left()


def test_pytest_killed_during_a_load_run_is_cleaned_by_cluster_down_all(tmp_path: Path,
                                                                        metrics: dict[str, Any]) -> None:
    run_id = f"kill-{int(time.time())}"
    s = Session(_pytest("suites/loadgen/test_loadgen.py", "--cluster-name", NAME, "--run-id", run_id,
                        "--results-dir", str(tmp_path)), tmp_path / "killed.log")
    _until(s, lambda: _pods(NAME, "", RUN_LABEL), "locust pods running")
    s.kill()
    assert _node_containers(NAME)
    down = _proxylab("cluster", "down", "--all")
    assert down.returncode == 0, down.stderr
    metrics["cluster_down"] = down.stdout.strip().splitlines()
    _assert_nothing_left()


def test_proxylab_run_killed_during_cluster_creation_resumes(tmp_path: Path, metrics: dict[str, Any]) -> None:
    mode_name = f"{PREFIX}iptables"
    argv = [sys.executable, "-m", "proxylab", "run", "--modes", "iptables", "--suites", "operator",
            "--results-dir", str(tmp_path)]
    s = Session(argv, tmp_path / "killed.log")
    # Killed while kind creates the nodes: containers exist, the cluster is not up.
    _until(s, lambda: _node_containers(mode_name), "kind node containers created")
    time.sleep(3)
    s.kill()
    runs = [p.name for p in tmp_path.iterdir() if p.is_dir()]
    assert len(runs) == 1, f"expected the killed run's directory in {tmp_path}: {runs}"
    run_id = runs[0]
    results = tmp_path / run_id / "iptables" / "results.json"
    assert results.exists() and _results(results)["run"]["finished"] is None, \
        "the killed run left no (unfinished) results.json"
    assert _node_containers(mode_name) or kind_clusters(), "nothing of the half-made cluster is left to recover from"

    again = Session([*argv[:4], "--resume", run_id, *argv[4:]], tmp_path / "resumed.log")
    code = again.wait()
    out = again.output()
    assert code == 0, out[-3000:]
    assert f"resuming {run_id}" in out and "left over from an interrupted run" in out, out[-3000:]
    assert results.with_name("results.interrupted-1.json").exists()
    doc = _results(results)
    assert doc["run"]["finished"] and doc["tests"] and all(t["verdict"] == "passed" for t in doc["tests"]), doc["tests"]
    metrics.update(resumed_tests=len(doc["tests"]))
    assert not leftovers.nonempty(leftovers.of_cluster(mode_name))
    _assert_nothing_left()


def test_docker_engine_restart_during_a_session_fails_it_clearly_and_never_hangs(
        tmp_path: Path, metrics: dict[str, Any]) -> None:
    """The engine restarts under a running session (the cluster's nodes stop or restart with it):
    the session must end by itself, non-zero, saying the engine restarted, with the results
    measured before kept and the mode recorded as failed; `cluster down --all` then cleans up."""
    run_id = f"restart-{int(time.time())}"
    results = tmp_path / run_id / "iptables" / "results.json"
    s = Session(_pytest("suites/conformance/test_smoke.py", "suites/conformance/test_readiness.py",
                        "suites/conformance/test_balancing.py", "--cluster-name", NAME, "--run-id", run_id,
                        "--results-dir", str(tmp_path)), tmp_path / "restarted.log")
    _until(s, lambda: results.exists() and len(_results(results)["tests"]) >= 2, "two smoke tests recorded")
    before = _results(results)["tests"]
    t0 = time.monotonic()
    try:
        provision.restart_engine()
    except BaseException:
        s.kill()  # the engine did not come back: do not leave the session waiting on it
        raise
    restarted = time.monotonic() - t0
    code = s.wait(timeout=RESTART_LIMIT_S)
    ended = time.monotonic() - t0
    out = s.output()
    doc = _results(results)
    metrics.update(engine_restart_s=round(restarted, 1), session_ended_after_s=round(ended, 1), exit_code=code,
                   tests_before=len(before), tests_after=len(doc["tests"]), mode_reason=doc["run"].get("mode_reason"))
    assert code != 0, f"the session passed although its engine restarted:\n{out[-3000:]}"
    # The reason names the engine: "restarted" once its pid changed, or "stopped every node" when it
    # was still stopping them when the check gave up waiting (never only the nodes' symptoms).
    assert "the Docker engine" in out, out[-3000:]
    assert doc["run"]["mode_status"] == "failed" and "the Docker engine" in doc["run"]["mode_reason"]
    assert doc["tests"][:len(before)] == before, "results measured before the restart changed"
    assert doc["run"]["finished"], "the session did not finish its results.json"
    down = _proxylab("cluster", "down", "--all")
    assert down.returncode == 0, down.stderr
    _assert_nothing_left()
