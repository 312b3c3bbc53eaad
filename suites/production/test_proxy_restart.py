"""Proxy restart under load (issue 11): restart the proxy on the client's node, then on every node,
while traffic goes through a ClusterIP with 4 backends spread over the workers.

Traffic, all from pods on the client's node (the first worker):

- locust load, two runs side by side (:mod:`loadgen.background`: master and worker pods each):
  keep-alive users and new-connection users (``Connection: close``: each request a new flow
  through the proxy's NAT), LOCUST_USERS users each paced at LOCUST_RATE_PER_USER requests/s.
  The runs start before the restart and are only acted on once their master reported requests
  (locust's start-up is not in the observed window); they stop when the probes below have ended.
  Their per-second timelines give failures by kind per connection kind and the longest window
  of seconds with failures (1-s resolution);
- new connections at 100 ms resolution: ``echo series``, a GET on a new connection every 100 ms;
- one long-lived keep-alive connection: :data:`proxylab.perf.keepalive.CLIENT` (Python's
  http.client in the load-generator image), a GET every 100 ms on the same connection; its local
  port tells whether the connection survived or was re-opened.

The restart is the mode's own (:meth:`ProxyMode.restart_proxy`: kube-proxy's pods, or the Cilium
agents), and "resynced" is the mode's answer too (:meth:`ProxyMode.wait_proxy_resynced`:
kube-proxy's first rule sync of the new process, the Cilium agent's readiness).

Recorded per case: failed requests by kind and the longest gap between answers of each probe,
whether the long-lived connection survived, the time until every restarted proxy had resynced;
per locust run its requests, failures by kind, longest failure window, its rate before the restart
against the rate asked, and its workers' CPU. The test fails only when traffic does not recover:
new connections must be answered within RECOVERY_BOUND_S of the last proxy having resynced, the
series must end answering, and both locust runs must have answers in their last whole seconds.
Failed requests and a broken long-lived connection are findings, recorded, not failures. A
locust run that is not a measurement (no request, under 2 s of load before the restart, starved
below 80 % of its asked rate, a CPU-bound worker, or stopped early: :func:`restart_load.problems`)
fails the test with the reasons: its zero failures would say nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from loadgen import LoadSpec, background
from loadgen.background import BackgroundLoad, TimedResult
from proxylab import kube
from proxylab.convergence import Sample, parse_series
from proxylab.modes import ProxyMode
from proxylab.nodes import NodeAccess
from proxylab.perf import interference, keepalive
from suites.namespaces import Namespace, UntilPoll, in_background
from suites.performance.conftest import generator_pod

from . import restart_load

pytestmark = [pytest.mark.e2e, pytest.mark.disruptive]

BACKENDS = 4
INTERVAL_MS = 100
TIMEOUT_MS = 1000  # per request of both probes
LEAD_S = 3.0  # observed before the restart
AFTER_S = 12.0  # observed after the last proxy resynced (when the window allows it)
WINDOW_S = 25.0  # each probe's whole run (kube-proxy resyncs in ~2 s; a slower proxy gets a follow-up probe)
RESYNC_TIMEOUT_S = 150.0
RECOVERY_BOUND_S = 30.0
# locust: modest, for 2 shared cores (each run is one master and one worker pod on the client's node).
LOCUST_KINDS = {"locust_keepalive": True, "locust_newconn": False}  # metric prefix -> keep-alive
LOCUST_USERS = 10
LOCUST_RATE_PER_USER = 5.0  # requests/s per user: 50/s per run
LOCUST_TIMEOUT_S = TIMEOUT_MS / 1000
LOCUST_CAP_S = 240  # hard cap of a run (it is stopped long before: see loadgen.background)


@dataclass
class Target:
    ns: Namespace
    cluster_ip: str
    client_node: str
    echo_client: str
    keepalive_client: str


@pytest.fixture(scope="module")
def target(namespace: Namespace, node_access: NodeAccess) -> Target:
    """(``node_access``: kube-proxy's last sync is read on its node.)"""
    fx = namespace.fixture("restart", {"replicas": BACKENDS})
    ip = str(fx.status()["service"]["clusterIP"])
    node = namespace.workers[0] if namespace.workers else namespace.cluster.nodes[0]
    echo_client = namespace.probe_pod("rs-client", node)
    ka_client = generator_pod(namespace, "rs-keepalive", node)
    namespace.wait_serving(echo_client, f"http://{ip}/")
    return Target(namespace, ip, node, echo_client, ka_client)


def _locust_spec(t: Target, keep_alive: bool) -> LoadSpec:
    return LoadSpec(targets=(f"{t.cluster_ip}:80",), users=LOCUST_USERS, spawn_rate=LOCUST_USERS,
                    duration_s=LOCUST_CAP_S, keep_alive=keep_alive, rate_per_user=LOCUST_RATE_PER_USER,
                    request_timeout_s=LOCUST_TIMEOUT_S, node=t.client_node)


@pytest.fixture
def locust_load(target: Target) -> Iterator[dict[str, BackgroundLoad]]:
    """Both locust runs, making requests when the test starts; deleted whatever the test does."""
    t = target
    runs = dict(zip(LOCUST_KINDS, background.start(t.ns.api, t.ns.name, [_locust_spec(t, k) for k in
                                                                         LOCUST_KINDS.values()]), strict=True))
    try:
        for run in runs.values():
            run.wait_requests()
        yield runs
    finally:
        for run in runs.values():
            run.discard()


def _start_probes(t: Target) -> tuple[Any, Any]:
    window_ms = str(round(WINDOW_S * 1000))
    series = in_background(lambda: t.ns.probe(t.echo_client, "series", f"http://{t.cluster_ip}/", window_ms,
                                              str(INTERVAL_MS), str(TIMEOUT_MS), timeout=WINDOW_S + 60))
    keep = in_background(lambda: _keepalive(t, window_ms))
    return series, keep


def _keepalive(t: Target, window_ms: str) -> dict[str, Any]:
    argv = ["python3", "-c", keepalive.CLIENT, t.cluster_ip, "80", window_ms, str(INTERVAL_MS), str(TIMEOUT_MS)]
    res = kube.exec_in_pod(t.ns.api, t.ns.name, t.keepalive_client, argv, timeout=WINDOW_S + 60)
    if res.returncode != 0:
        raise AssertionError(f"the keep-alive client in {t.keepalive_client} exited {res.returncode}: "
                             f"{(res.stderr or res.stdout)[-500:]}")
    parsed: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return parsed


def _record_locust(metrics: dict[str, Any], results: dict[str, TimedResult], change_s: float,
                   until_s: float) -> tuple[dict[str, list[str]], dict[str, bool]]:
    """Each run's figures into ``metrics``; returns why a run is not a measurement, and whether it recovered."""
    invalid: dict[str, list[str]] = {}
    recovered: dict[str, bool] = {}
    asked = LOCUST_USERS * LOCUST_RATE_PER_USER
    for prefix, timed in results.items():
        rows = restart_load.rows(timed.result, timed.first_second, change_s)
        metrics.update(restart_load.as_metrics(prefix, timed.result, rows, asked, change_s))
        invalid[prefix] = restart_load.problems(timed.result, rows, asked, change_s, until_s)
        recovered[prefix] = restart_load.recovered(rows)
    metrics["locust_failed_requests"] = sum(r.result.failures for r in results.values())
    metrics["locust_longest_failure_window_s"] = max(
        int(metrics[f"{p}_longest_failure_window_s"]) for p in results)
    metrics["locust_invalid"] = {p: why for p, why in invalid.items() if why}
    return invalid, recovered


def _record_probes(metrics: dict[str, Any], t: Target, series_raw: dict[str, Any], keep_raw: dict[str, Any],
                   change_ms: float, synced: dict[str, float]) -> keepalive.Disruption:
    """The two probes' figures into ``metrics``; returns the new-connection probe's analysis."""
    resynced_at = max(synced.values())
    new_conn = keepalive.analyse(parse_series(series_raw["samples"]), change_ms)
    long_lived = keepalive.analyse(parse_series([s[:2] for s in keep_raw["samples"]]), change_ms)
    keep_end_ms = max(float(r[0]) for r in keep_raw["samples"])
    # None: the window ended before the proxy had resynced, so survival past the resync is unknown.
    survived = keepalive.survived(keep_raw["samples"], change_ms, resynced_at * 1000) \
        if keep_end_ms >= resynced_at * 1000 else None
    metrics.update(
        failed_requests=new_conn.failed + long_lived.failed,
        longest_gap_s=max(new_conn.longest_gap_s, long_lived.longest_gap_s),
        long_lived_survived=survived,
        long_lived_connections=len(keepalive.connections(keep_raw["samples"])),
        **new_conn.as_metrics("new_conn"), **long_lived.as_metrics("long_lived"),
        method=f"echo series (new connection per GET) and one keep-alive connection, each a GET every "
               f"{INTERVAL_MS} ms from {t.client_node}, beside two locust runs (keep-alive and new-connection "
               f"users, {LOCUST_USERS} each at {LOCUST_RATE_PER_USER:g}/s); times from the delete of the proxy pods")
    return new_conn


def _assert_new_connections_recovered(t: Target, last: Sample, followup: dict[str, Any] | None,
                                      new_conn: keepalive.Disruption, change_ms: float, resynced_at: float,
                                      metrics: dict[str, Any]) -> None:
    """New connections answer again within RECOVERY_BOUND_S of the last proxy having resynced: by the
    follow-up probe when the window ended too early, else by the series' last failure."""
    if followup is not None:
        assert followup["hit"] is not None and followup["hit"] - resynced_at <= RECOVERY_BOUND_S, \
            f"new connections to {t.cluster_ip} not answered within {RECOVERY_BOUND_S}s of the proxy resyncing: {followup}"
        return
    assert not last.failed, f"new connections still failed at the end of the window ({new_conn.failed_by_kind})"
    if new_conn.last_failure_s is not None:
        recovered_s = (change_ms / 1000 + new_conn.last_failure_s) - resynced_at
        metrics["recovered_after_resync_s"] = round(max(0.0, recovered_s), 3)
        assert recovered_s <= RECOVERY_BOUND_S, \
            f"new connections failed until {recovered_s:.1f}s after the proxy resynced (bound {RECOVERY_BOUND_S}s)"


@pytest.mark.parametrize("scope", ["client-node", "all-nodes"])
def test_proxy_restart_under_load(target: Target, locust_load: dict[str, BackgroundLoad], proxy_mode: ProxyMode,
                                  metrics: dict[str, Any], scope: str) -> None:
    t = target
    nodes = [t.client_node] if scope == "client-node" else list(t.ns.cluster.nodes)
    api = kube.api_client(t.ns.cluster.kubeconfig)
    sampler = interference.Sampler(list(t.ns.cluster.nodes))
    cpu_before = sampler.sample()
    series_bg, keep_bg = _start_probes(t)
    time.sleep(LEAD_S + 1.5)  # the execs take a moment to start; each probe reports when it did
    restart = proxy_mode.restart_proxy(api, nodes)
    synced = proxy_mode.wait_proxy_resynced(api, restart, timeout=RESYNC_TIMEOUT_S)
    resynced_at = max(synced.values())
    change_ms = restart.deleted_at * 1000
    series_raw = series_bg.result(WINDOW_S + 90)
    keep_raw = keep_bg.result(WINDOW_S + 90)
    for name, raw in (("series", series_raw), ("keep-alive", keep_raw)):
        assert raw["started"] < change_ms, f"the {name} probe started after the restart: nothing observed before it"

    new_conn = _record_probes(metrics, t, series_raw, keep_raw, change_ms, synced)
    metrics.update(scope=scope, restarted_nodes=len(nodes), resync_s=round(resynced_at - restart.deleted_at, 3),
                   resync_s_by_node={n: round(at - restart.deleted_at, 3) for n, at in synced.items()})
    # The bound: traffic answers again within RECOVERY_BOUND_S of the last proxy having resynced.
    series = sorted(parse_series(series_raw["samples"]))
    followup: dict[str, Any] | None = None
    if series[-1].t_ms < (resynced_at + AFTER_S) * 1000:  # the proxy took longer than the window: ask again
        followup = t.ns.until(t.echo_client, f"{t.cluster_ip}:80", "ok", UntilPoll(RECOVERY_BOUND_S, 1000, 100))
        # Attempts that failed before the first answer (0: answered at once); the follow-up starts
        # when the series has ended, so its time says nothing about how long traffic failed.
        metrics["followup_failed_attempts"] = int(followup["attempts"]) - (1 if followup["hit"] is not None else 0)
    until_s = time.time()
    results = dict(zip(locust_load, background.stop_all(list(locust_load.values())), strict=True))
    use = interference.between(cpu_before, sampler.sample())
    metrics.update(locust_startup_s=max(r.first_requests_s or 0.0 for r in locust_load.values()),
                   outside_cores=use["outside_cores"], cluster_cores=use["cluster_cores"])
    invalid, locust_recovered = _record_locust(metrics, results, restart.deleted_at, until_s)

    _assert_new_connections_recovered(t, series[-1], followup, new_conn, change_ms, resynced_at, metrics)
    bad = {p: why for p, why in invalid.items() if why}
    assert not bad, f"locust runs that are not a measurement of the restart: {bad}"
    stuck = [p for p, ok in locust_recovered.items() if not ok]
    assert not stuck, (f"{stuck}: no answers in the last {restart_load.RECOVERED_SECONDS} whole seconds of the run "
                       f"(traffic did not recover): " + "; ".join(f"{p} {metrics[p + '_timeline'][-4:]}" for p in stuck))
