"""The harness must see real breakage: break the live cluster on purpose, run the same checks the
conformance tests use, and require them to go red. Each break is undone before the test ends.

1. A backend unreachable from one node: on the client's node, shadow the route to the backends'
   node's pod CIDR with two more specific ``unreachable`` routes (its two halves); the
   reachability check must fail. Shadowing rather than deleting, because Cilium (ebpf mode,
   autoDirectNodeRoutes) restores a deleted node route within ~3 s (measured: ``ip route del``
   on a worker, the route was back at the first 3 s poll), which made the break race the check.
   Routes more specific than its own are not its to repair, so the break holds on every mode.
2. An unready backend still receiving traffic: stop kube-proxy (its rules stay, frozen), turn a
   backend unready; the readiness check must fail.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import pytest
from kubernetes import client

from proxylab import kube
from proxylab.constants import PROXY_READY_TIMEOUT_S
from proxylab.nodes import NodeAccess
from proxylab.wait import wait_for
from suites.namespaces import Namespace

from .checks import Series, assert_all_backends_answer, assert_victim_excluded, now_ms

pytestmark = [pytest.mark.e2e, pytest.mark.disruptive]


def test_reachability_check_fails_when_a_node_loses_its_route(namespace: Namespace, node_access: NodeAccess,
                                                              metrics: dict[str, Any]) -> None:
    if len(namespace.workers) < 2:
        pytest.skip("needs 2 worker nodes")
    client_node, backend_node = namespace.workers
    fx = namespace.fixture("cut", {"replicas": 2, "placement": {"nodes": [backend_node]}})
    st = fx.status()
    url, backends = f"http://{st['service']['clusterIP']}/", {e["pod"] for e in st["endpoints"]}
    probe = namespace.probe_pod("client", client_node)
    namespace.wait_serving(probe, url, backends)
    assert_all_backends_answer(namespace, probe, url, backends, 20, metrics, "before")
    nodes = {n.metadata.name: n for n in namespace.core().list_node().items}
    halves = [str(net) for net in ipaddress.ip_network(nodes[backend_node].spec.pod_cidr).subnets(prefixlen_diff=1)]
    added: list[str] = []
    try:
        for half in halves:
            node_access.run(client_node, ["ip", "route", "add", "unreachable", half])
            added.append(half)
        with pytest.raises(AssertionError) as broken:
            assert_all_backends_answer(namespace, probe, url, backends, 10, metrics, "broken")
        metrics["detected"] = str(broken.value).splitlines()[0]
    finally:
        for half in added:
            node_access.run(client_node, ["ip", "route", "del", "unreachable", half])
    assert_all_backends_answer(namespace, probe, url, backends, 20, metrics, "restored")


def test_readiness_check_fails_when_the_proxy_stops_updating(namespace: Namespace, cluster: Any,
                                                               metrics: dict[str, Any]) -> None:
    if not cluster.mode.uses_kube_proxy:
        pytest.skip(f"mode {cluster.mode.value} has no kube-proxy to stop")
    apps = client.AppsV1Api(namespace.api)
    fx = namespace.fixture("frozen", {"replicas": 3})
    st = fx.status()
    victim = sorted(e["pod"] for e in st["endpoints"])[0]
    url = f"http://{st['service']['clusterIP']}/"
    probe = namespace.probe_pod("client", namespace.workers[0])
    namespace.wait_serving(probe, url, {e["pod"] for e in st["endpoints"]})
    park = {"spec": {"template": {"spec": {"nodeSelector": {"proxylab.dev/parked": "true"}}}}}
    apps.patch_namespaced_daemon_set("kube-proxy", "kube-system", park)
    try:
        wait_for(lambda: (not (pods := namespace.core().list_namespaced_pod(
            "kube-system", label_selector="k8s-app=kube-proxy").items), f"{len(pods)} kube-proxy pods left"),
                 timeout=60, what="kube-proxy stopped")
        series = Series(namespace, probe, url, 10_000)
        time.sleep(1.5)
        unready_ms = now_ms()
        fx.add_fault("unready-frozen", "unready", pods=[victim])
        fx.wait_fault("unready-frozen")
        during = [s for s in series.samples(60, before_ms=unready_ms) if s[0] >= unready_ms]
        with pytest.raises(AssertionError) as broken:
            assert_victim_excluded(during, victim, unready_ms, 5.0, metrics, "frozen_convergence_s")
        metrics["detected"] = str(broken.value).splitlines()[0]
    finally:
        apps.patch_namespaced_daemon_set("kube-proxy", "kube-system",
                                         {"spec": {"template": {"spec": {"nodeSelector": None}}}})
        wait_for(lambda: kube.daemonset_ready(namespace.api, "kube-system", "kube-proxy"),
                 timeout=PROXY_READY_TIMEOUT_S,
                 what="kube-proxy back", interval=2)
