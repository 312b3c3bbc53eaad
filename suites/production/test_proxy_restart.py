"""Proxy restart under load (issue 11): restart the proxy on the client's node, then on every node,
while traffic goes through a ClusterIP with 4 backends spread over the workers.

Traffic, both from pods on the client's node (the first worker):

- new connections: ``echo series``, a GET on a new connection every 100 ms (each one balanced by
  whatever rules are in the kernel at that moment);
- one long-lived keep-alive connection: :data:`proxylab.perf.keepalive.CLIENT` (Python's
  http.client in the load-generator image), a GET every 100 ms on the same connection; its local
  port tells whether the connection survived or was re-opened.

The issue also asks for locust load; a locust run needs a master and workers started per run
(tens of seconds on a 2-core host before the first request), which does not fit the few tens of
seconds a case may take here, so the load is these two probes at a steady 10 requests/s each.

The restart is the mode's own (:meth:`ProxyMode.restart_proxy`: kube-proxy's pods, or the Cilium
agents), and "resynced" is the mode's answer too (:meth:`ProxyMode.wait_proxy_resynced`:
kube-proxy's first rule sync of the new process, the Cilium agent's readiness).

Recorded per case: failed requests by kind and the longest gap between answers for each kind of
traffic, whether the long-lived connection survived, the time until every restarted proxy had
resynced. The test fails only when traffic does not recover: new connections must be answered
within RECOVERY_BOUND_S of the last proxy having resynced, and the series must end answering.
Failed requests and a broken long-lived connection are findings, recorded, not failures.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from proxylab import kube
from proxylab.convergence import parse_series
from proxylab.modes import ProxyMode
from proxylab.perf import keepalive
from suites.namespaces import Namespace, in_background
from suites.performance.conftest import generator_pod

pytestmark = [pytest.mark.e2e, pytest.mark.disruptive, pytest.mark.node_access]  # docker exec on nodes

BACKENDS = 4
INTERVAL_MS = 100
TIMEOUT_MS = 1000  # per request of both probes
LEAD_S = 3.0  # observed before the restart
AFTER_S = 12.0  # observed after the last proxy resynced (when the window allows it)
WINDOW_S = 25.0  # each probe's whole run (kube-proxy resyncs in ~2 s; a slower proxy gets a follow-up probe)
RESYNC_TIMEOUT_S = 150.0
RECOVERY_BOUND_S = 30.0


@dataclass
class Target:
    ns: Namespace
    cluster_ip: str
    client_node: str
    echo_client: str
    keepalive_client: str


@pytest.fixture(scope="module")
def target(namespace: Namespace) -> Target:
    fx = namespace.fixture("restart", {"replicas": BACKENDS})
    ip = str(fx.status()["service"]["clusterIP"])
    node = namespace.workers[0] if namespace.workers else namespace.cluster.nodes[0]
    echo_client = namespace.probe_pod("rs-client", node)
    ka_client = generator_pod(namespace, "rs-keepalive", node)
    namespace.wait_serving(echo_client, f"http://{ip}/")
    return Target(namespace, ip, node, echo_client, ka_client)


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


@pytest.mark.parametrize("scope", ["client-node", "all-nodes"])
def test_proxy_restart_under_load(target: Target, proxy_mode: ProxyMode, metrics: dict[str, Any],
                                  scope: str) -> None:
    t = target
    nodes = [t.client_node] if scope == "client-node" else list(t.ns.cluster.nodes)
    api = kube.api_client(t.ns.cluster.kubeconfig)
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

    new_conn = keepalive.analyse(parse_series(series_raw["samples"]), change_ms)
    long_lived = keepalive.analyse(parse_series([s[:2] for s in keep_raw["samples"]]), change_ms)
    keep_end_ms = max(float(r[0]) for r in keep_raw["samples"])
    # None: the window ended before the proxy had resynced, so survival past the resync is unknown.
    survived = keepalive.survived(keep_raw["samples"], change_ms, resynced_at * 1000) \
        if keep_end_ms >= resynced_at * 1000 else None
    metrics.update(
        scope=scope, restarted_nodes=len(nodes),
        resync_s=round(resynced_at - restart.deleted_at, 3),
        resync_s_by_node={n: round(at - restart.deleted_at, 3) for n, at in synced.items()},
        failed_requests=new_conn.failed + long_lived.failed,
        longest_gap_s=max(new_conn.longest_gap_s, long_lived.longest_gap_s),
        long_lived_survived=survived,
        long_lived_connections=len(keepalive.connections(keep_raw["samples"])),
        **new_conn.as_metrics("new_conn"), **long_lived.as_metrics("long_lived"),
        method=f"echo series (new connection per GET) and one keep-alive connection, each a GET every "
               f"{INTERVAL_MS} ms from {t.client_node}; times from the delete of the proxy pods")
    # The bound: traffic answers again within RECOVERY_BOUND_S of the last proxy having resynced.
    series = sorted(parse_series(series_raw["samples"]))
    window_end_ms = series[-1].t_ms
    if window_end_ms < (resynced_at + AFTER_S) * 1000:  # the proxy took longer than the window: ask again
        hit = t.ns.probe(t.echo_client, "until", f"{t.cluster_ip}:80", "ok", str(RECOVERY_BOUND_S), "1000", "100")
        # Attempts that failed before the first answer (0: answered at once); the follow-up starts
        # when the series has ended, so its time says nothing about how long traffic failed.
        metrics["followup_failed_attempts"] = int(hit["attempts"]) - (1 if hit["hit"] is not None else 0)
        assert hit["hit"] is not None and hit["hit"] - resynced_at <= RECOVERY_BOUND_S, \
            f"new connections to {t.cluster_ip} not answered within {RECOVERY_BOUND_S}s of the proxy resyncing: {hit}"
        return
    assert not series[-1].failed, \
        f"new connections still failed at the end of the window ({new_conn.failed_by_kind})"
    if new_conn.last_failure_s is not None:
        recovered_s = (change_ms / 1000 + new_conn.last_failure_s) - resynced_at
        metrics["recovered_after_resync_s"] = round(max(0.0, recovered_s), 3)
        assert recovered_s <= RECOVERY_BOUND_S, \
            f"new connections failed until {recovered_s:.1f}s after the proxy resynced (bound {RECOVERY_BOUND_S}s)"
