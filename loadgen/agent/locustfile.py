"""proxylab's locustfile: runs inside the cluster (master + workers), never in the harness.

Each user sends GET requests to the targets (host:port, round-robin over them, or one target per
user with ``--pl-sticky``), keeping the
connection alive or asking for a new one per request (``Connection: close``). Workers account
every request through locust's ``request`` event into per-second buckets, count the echo
backend's ``pod`` per answer, sample their own CPU, and ship all of it to the master inside
locust's own worker reports (``report_to_master`` / ``worker_report``). At ``quitting`` the master
prints one line ``PROXYLAB-LOADGEN-RESULT <json>`` that the harness reads from the pod log.
"""

# mypy: disable-error-code="untyped-decorator,method-assign"
# (locust's event decorators are untyped; wait_time is rebound per user on purpose)
from __future__ import annotations

import itertools
import json
import os
import socket
import sys
import time
import types
from collections.abc import Callable
from typing import Any

import gevent
import psutil
from locust import FastHttpUser, constant, constant_throughput, events, task
from locust import runners as locust_runners
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lgstats  # shipped next to this file (ConfigMap)

RESULT_MARKER = "PROXYLAB-LOADGEN-RESULT "
STARTED_MARKER = "PROXYLAB-LOADGEN-STARTED "  # master: the first worker report with requests in it
RESULT_CHUNK = 8000
# Per-second timelines want fresh worker data; locust's default is one report per 3 s.
locust_runners.WORKER_REPORT_INTERVAL = 1.0

_pending: dict[str, Any] = {"seconds": {}, "backends": {}, "cpu": []}
_master: dict[str, Any] = {"seconds": {}, "backends": {}, "cpu": {}, "reports": 0}
_started = time.time()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--pl-targets", default="", help="comma-separated host:port, round-robin")
    parser.add_argument("--pl-path", default="/")
    parser.add_argument("--pl-keep-alive", default="true", choices=["true", "false"])
    parser.add_argument("--pl-sticky", default="false", choices=["true", "false"],
                        help="each user keeps one target (spread evenly) instead of round-robin")
    parser.add_argument("--pl-per-user", type=int, default=0, help="requests per user, then stop (0: no limit)")
    parser.add_argument("--pl-rate-per-user", type=float, default=0.0, help="req/s per user (0: closed loop)")
    parser.add_argument("--pl-timeout", type=float, default=3.0)
    parser.add_argument("--pl-spec", default="{}", help="the harness's spec, echoed into the result")
    parser.add_argument("--pl-stop-file", default="",
                        help="master: quit (as at the end of --run-time) once this file exists ('': never)")


def _resolve(target: str) -> str:
    """host:port -> ip:port, once, so a new-connection run does not also measure DNS."""
    host, port = target.rsplit(":", 1)
    try:
        return f"{socket.gethostbyname(host)}:{port}"
    except OSError:
        return target  # every request then fails, classified "dns", instead of users dying silently


class EchoUser(FastHttpUser):
    host = "http://placeholder.invalid"  # absolute URLs are used; locust insists on a host

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        urls = [f"http://{t}{opts.pl_path}" for t in _targets(opts)]
        if opts.pl_sticky == "true":
            self.urls = [urls[(_WORKER_OFFSET + next(_user_seq)) % len(urls)]]
            self.next = 0
        else:
            self.urls = urls
            self.next = int.from_bytes(os.urandom(2), "little") % len(self.urls)
        self.headers = {} if opts.pl_keep_alive == "true" else {"Connection": "close"}
        self.left = opts.pl_per_user or -1
        if opts.pl_rate_per_user > 0:
            # locust's wait-time helpers are unbound functions of the user: bind to this instance.
            self.wait_time = types.MethodType(constant_throughput(opts.pl_rate_per_user), self)

    wait_time = constant(0)

    @task
    def get(self) -> None:
        if self.left == 0:
            raise StopUser()
        self.left -= 1
        url = self.urls[self.next]
        self.next = (self.next + 1) % len(self.urls)
        with self.client.get(url, name="echo", headers=self.headers, catch_response=True) as resp:
            if resp.status_code == 200:
                try:
                    pod = json.loads(resp.content)["pod"]
                except (ValueError, KeyError, TypeError):
                    resp.failure(lgstats.BadAnswer(f"not an echo answer: {resp.content[:80]!r}"))
                    return
                backends = _pending["backends"]
                backends[pod] = backends.get(pod, 0) + 1


_targets_cache: list[str] = []
# Sticky mode: users of this worker take targets in turn from a random start, so several workers
# do not all pile onto the first targets.
_user_seq = itertools.count()
_WORKER_OFFSET = int.from_bytes(os.urandom(2), "little")


def _targets(opts: Any) -> list[str]:
    if not _targets_cache:
        raw = [t for t in opts.pl_targets.split(",") if t]
        if not raw:
            raise SystemExit("--pl-targets is empty: give host:port[,host:port...]")
        # Resolve completely before publishing: gethostbyname yields to other users (gevent),
        # which must never see a half-filled list.
        resolved = [_resolve(t) for t in raw]
        if not _targets_cache:
            _targets_cache[:] = resolved
    return _targets_cache


@events.request.add_listener
def _on_request(start_time: float, response_time: float, response: Any = None, exception: Any = None,
                **_kw: Any) -> None:
    status = getattr(response, "status_code", None)
    kind = lgstats.classify(exception, status if isinstance(status, int) else None)
    if exception is not None and kind is None:
        kind = "other"
    lgstats.record(_pending["seconds"], start_time, response_time, kind)


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any]) -> None:
    data["proxylab"] = {"worker": socket.gethostname(), "seconds": _pending["seconds"],
                        "backends": _pending["backends"], "cpu": _pending["cpu"]}
    _pending["seconds"], _pending["backends"], _pending["cpu"] = {}, {}, []


@events.worker_report.add_listener
def _worker_report(client_id: str, data: dict[str, Any]) -> None:
    if "proxylab" in data:
        lgstats.merge_report(_master, data["proxylab"])
        _master["reports"] += 1
        if not _master.get("announced") and any(int(s.get("n", 0)) for s in _master["seconds"].values()):
            # A harness that runs load in the background waits for this line before it acts.
            _master["announced"] = True
            sys.stdout.write(f"{STARTED_MARKER}{min(int(k) for k in _master['seconds'])}\n")
            sys.stdout.flush()


def _sample_cpu(into: Callable[[], list[list[float]]]) -> None:
    """One CPU sample per second, as % of one core (locust's own sampler runs every 10 s).

    A worker is one gevent loop on one core: near 100 % means the generator, not the target,
    limits the rate.
    """
    proc = psutil.Process()
    proc.cpu_percent(None)
    while True:
        gevent.sleep(1.0)
        into().append([round(time.time(), 2), proc.cpu_percent(None)])


_master_cpu: list[list[float]] = []


def _stop_when_done(environment: Any, limit: int) -> None:
    """Request-count mode: quit once the workers reported ``limit`` requests (run-time stays the cap)."""
    while environment.stats.total.num_requests < limit:
        gevent.sleep(0.2)
    environment.runner.quit()


def _stop_on_file(environment: Any, path: str) -> None:
    """Quit once ``path`` exists (the harness creates it with an exec): the same ending as the
    run-time limit, so the workers' last reports are still merged before the result is printed."""
    while not os.path.exists(path):
        gevent.sleep(0.2)
    environment.runner.quit()


@events.init.add_listener
def _init(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    timeout = environment.parsed_options.pl_timeout
    EchoUser.network_timeout = EchoUser.connection_timeout = timeout
    if isinstance(runner, WorkerRunner):
        gevent.spawn(_sample_cpu, lambda: _pending["cpu"])
    elif isinstance(runner, MasterRunner):
        gevent.spawn(_sample_cpu, lambda: _master_cpu)


@events.test_start.add_listener
def _test_start(environment: Any, **_kw: Any) -> None:
    opts = environment.parsed_options
    if isinstance(environment.runner, MasterRunner) and opts.pl_per_user > 0:
        gevent.spawn(_stop_when_done, environment, opts.pl_per_user * opts.num_users)
    if isinstance(environment.runner, MasterRunner) and opts.pl_stop_file:
        gevent.spawn(_stop_on_file, environment, opts.pl_stop_file)


@events.quitting.add_listener
def _quitting(environment: Any, **_kw: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        return
    total = environment.stats.total
    locust_totals = {
        "num_requests": total.num_requests, "num_failures": total.num_failures,
        "avg_response_time_ms": total.avg_response_time, "min_response_time_ms": total.min_response_time,
        "max_response_time_ms": total.max_response_time,
        "p50_ms": total.get_response_time_percentile(0.5), "p99_ms": total.get_response_time_percentile(0.99),
        "errors": {e.error: e.occurrences for e in environment.stats.errors.values()},
    }
    out = {"schema": 1, "spec": json.loads(environment.parsed_options.pl_spec), "started": _started,
           "ended": time.time(), "workers_reporting": len(_master["cpu"]), "reports": _master["reports"],
           "seconds": _master["seconds"], "backends": _master["backends"], "cpu": _master["cpu"],
           "worker_requests": _master.get("worker_requests", {}), "master_cpu": _master_cpu, "locust": locust_totals}
    # Chunked: container runtimes split log lines longer than 16 KiB, and the pod-log API does not
    # join them back. Each line: marker, index, count, piece (see loadgen.runner.parse_master_log).
    text = json.dumps(out, separators=(",", ":"))
    pieces = [text[i:i + RESULT_CHUNK] for i in range(0, len(text), RESULT_CHUNK)] or [""]
    for i, piece in enumerate(pieces):
        sys.stdout.write(f"{RESULT_MARKER}{i} {len(pieces)} {piece}\n")
    sys.stdout.flush()
