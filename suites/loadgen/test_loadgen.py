"""loadgen against a real cluster: keep-alive, new connection per request, pod-IP baseline, no endpoints.

Runs are short and modest (<= 15 s, <= 10 users): the machines have 2 shared cores. Asserted is
only what must hold whatever the machine's speed; the numbers go to results.json.
"""

from __future__ import annotations

from typing import Any

import pytest

from loadgen import LoadResult, LoadSpec, run_load
from proxylab import manifests
from proxylab.constants import POD_READY_TIMEOUT_S

from .conftest import Backends

pytestmark = pytest.mark.e2e


def _run(b: Backends, metrics: dict[str, Any], **kwargs: Any) -> LoadResult:
    spec = LoadSpec(node=b.client_node, **kwargs)
    res = run_load(b.api, b.namespace, spec)
    metrics.update(spec=spec.to_json(), result=res.summary(), wall_s=res.wall_s, locust_errors=res.locust.get("errors"),
                   timeline=[[s.t, s.requests, s.latency.p99] for s in res.timeline])
    return res


def _consistent(res: LoadResult) -> None:
    """Our own accounting agrees with locust's, and every success names its backend."""
    assert res.requests == res.locust["num_requests"], (res.requests, res.locust)
    assert res.failures == res.locust["num_failures"], (res.failures, res.locust)
    assert sum(res.backends.values()) == res.requests - res.failures, (res.backends, res.requests)
    assert sum(s.requests for s in res.timeline) == res.requests


def test_keep_alive_through_cluster_ip(backends: Backends, metrics: dict[str, Any]) -> None:
    res = _run(backends, metrics, targets=(backends.service,), users=10, spawn_rate=10, duration_s=15)
    _consistent(res)
    assert res.requests > 0 and res.failures == 0, res.failures_by_kind
    # kube-proxy balances connections, not requests: 10 kept-alive connections need not cover all 5.
    assert set(res.backends) <= set(backends.pods), res.backends
    assert 14 <= len(res.timeline) <= 17, [s.t for s in res.timeline]
    assert all(s.latency.p99 is not None for s in res.timeline)
    assert res.workers and all(w.samples for w in res.workers)


def test_new_connection_per_request_reaches_every_backend(backends: Backends, metrics: dict[str, Any]) -> None:
    res = _run(backends, metrics, targets=(backends.service,), users=2, duration_s=10, keep_alive=False)
    _consistent(res)
    assert res.failures == 0, res.failures_by_kind
    assert set(res.backends) == set(backends.pods), res.backends


def test_baseline_round_robins_over_pod_ips(backends: Backends, metrics: dict[str, Any]) -> None:
    users = 2
    targets = tuple(f"{ip}:{manifests.ECHO_HTTP_PORT}" for ip in backends.pods.values())
    res = _run(backends, metrics, targets=targets, users=users, duration_s=8)
    _consistent(res)
    assert res.failures == 0, res.failures_by_kind
    assert set(res.backends) == set(backends.pods), res.backends
    # Each user cycles through the list, so the counts differ by at most one round per user.
    assert max(res.backends.values()) - min(res.backends.values()) <= users, res.backends


def test_sticky_baseline_keeps_each_user_on_one_pod_ip(backends: Backends, metrics: dict[str, Any]) -> None:
    """Two users, one worker, sticky: users take consecutive targets, so exactly two backends answer."""
    targets = tuple(f"{ip}:{manifests.ECHO_HTTP_PORT}" for ip in backends.pods.values())
    assert len(targets) > 2, "needs more backends than users to tell sticky from round-robin"
    res = _run(backends, metrics, targets=targets, users=2, duration_s=6, sticky=True)
    _consistent(res)
    assert res.failures == 0, res.failures_by_kind
    assert len(res.backends) == 2, f"expected each of the 2 users on its own backend, got {res.backends}"


def test_request_count_stops_the_run_early(backends: Backends, metrics: dict[str, Any]) -> None:
    res = _run(backends, metrics, targets=(backends.service,), users=4, max_requests=2000, duration_s=60,
               rate_per_user=200)
    _consistent(res)
    assert res.requests == 2000 and res.failures == 0, (res.requests, res.failures_by_kind)
    assert res.duration_s < 20, f"the run went on for {res.duration_s} s after 2000 requests"


def test_service_without_endpoints_is_refused(backends: Backends, metrics: dict[str, Any]) -> None:
    res = _run(backends, metrics, targets=(backends.empty,), users=2, duration_s=5, rate_per_user=50)
    _consistent(res)
    # Not many, and not all refused: the node rate-limits the ICMP errors behind iptables' REJECT
    # (a burst of ~6, then about 1/s per client); a SYN whose ICMP answer was suppressed is refused
    # on a retransmit 1 s later, or runs into the 3-s request timeout (measured: 11 refused + 2 timeout).
    assert res.requests >= 2 and res.failures == res.requests, res.failures_by_kind
    assert res.failures_by_kind.get("refused", 0) > 0, res.failures_by_kind
    assert set(res.failures_by_kind) <= {"refused", "timeout"}, res.failures_by_kind
    assert res.backends == {}


@pytest.mark.parametrize("workers", [1, 2])
def test_one_echo_replica_keep_alive_throughput(backends: Backends, metrics: dict[str, Any], workers: int) -> None:
    """Recorded, not asserted: one echo replica's keep-alive rate as this loadgen sees it (10 s, 10 users)."""
    from proxylab import kube
    from proxylab.images.catalog import cluster_catalog
    from proxylab.wait import wait_for

    ns, api = backends.namespace, backends.api
    if workers == 1:
        node = next((n for n in [backends.client_node] if n), None)
        backend_node = None if node is None else next(
            iter(sorted({p for p in _nodes(backends)} - {node})), None)
        kube.apply(api, manifests.echo_deployment("one", cluster_catalog().echo, 1, node=backend_node),
                   namespace=ns)
        kube.apply(api, manifests.service("one", {"app": "one"}), namespace=ns)
    wait_for(lambda: kube.pod_ready(api, ns, "app=one", 1), timeout=POD_READY_TIMEOUT_S, what="one echo replica")
    res = _run(backends, metrics, targets=(f"one.{ns}.svc.cluster.local:80",), users=10, duration_s=10,
               workers=workers)
    _consistent(res)
    assert res.failures == 0, res.failures_by_kind
    assert len(res.backends) == 1


def _nodes(b: Backends) -> set[str]:
    from kubernetes import client
    return {n.metadata.name for n in client.CoreV1Api(b.api).list_node().items
            if "control-plane" not in n.metadata.name}
