"""Service features: no endpoints, ClientIP session affinity, multi-port + UDP with a named
targetPort, internalTrafficPolicy Local, and the source IP a backend sees."""

from __future__ import annotations

import time
from typing import Any

import pytest

from proxylab.constants import ECHO_HTTP_PORT
from suites.namespaces import Namespace

pytestmark = pytest.mark.e2e

AFFINITY_TIMEOUT_S = 3
AFFINITY_ROUNDS = 8


def test_service_without_endpoints_is_refused_promptly(namespace: Namespace, metrics: dict[str, Any]) -> None:
    fx = namespace.fixture("empty", {"replicas": 0}, wait=False)
    fx.wait_ready()
    ip = fx.status()["service"]["clusterIP"]
    client = namespace.probe_pod("client", namespace.workers[0])
    answer = namespace.probe(client, "connect", f"{ip}:80")
    metrics.update(connect_ms=answer["ms"], outcome=answer.get("kind", "connected"))
    assert not answer["ok"], "a Service without endpoints accepted a connection"
    assert answer.get("kind") == "refused", f"expected connection refused, got {answer}"
    assert answer["ms"] < 1000, f"refusal took {answer['ms']} ms (must be < 1 s, not a timeout)"


def test_client_ip_affinity_sticks_then_expires(namespace: Namespace, metrics: dict[str, Any]) -> None:
    """Within the timeout every request of one client lands on one backend. After the timeout a
    new backend may be chosen: over 8 rounds spaced beyond the timeout at least two distinct
    backends must appear (3 backends; a correct proxy fails this with probability (1/3)^7 = 0.05 %)."""
    fx = namespace.fixture("sticky", {"replicas": 3, "sessionAffinity": "ClientIP",
                                      "sessionAffinityTimeoutSeconds": AFFINITY_TIMEOUT_S})
    url = f"http://{fx.status()['service']['clusterIP']}/"
    client = namespace.probe_pod("client", namespace.workers[0])
    namespace.wait_serving(client, url)
    time.sleep(AFFINITY_TIMEOUT_S + 1.5)
    rounds = []
    for _ in range(AFFINITY_ROUNDS):
        answer = namespace.probe(client, "get", url, "20")
        assert answer["errors"] == {}, answer["errors"]
        rounds.append(answer["counts"])
        time.sleep(AFFINITY_TIMEOUT_S + 1.5)
    metrics.update(rounds=rounds, timeout_s=AFFINITY_TIMEOUT_S)
    assert all(len(r) == 1 for r in rounds), f"a client was spread within the affinity timeout: {rounds}"
    chosen = {next(iter(r)) for r in rounds}
    metrics["distinct_backends"] = len(chosen)
    assert len(chosen) >= 2, f"the same backend was chosen in all {AFFINITY_ROUNDS} rounds after expiry"


def test_multi_port_udp_and_named_target_port(namespace: Namespace, metrics: dict[str, Any]) -> None:
    fx = namespace.fixture("multi", {"replicas": 3, "ports": [
        {"name": "web", "port": 80, "targetPort": "http"},
        {"name": "alt", "port": 8000, "targetPort": ECHO_HTTP_PORT},
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "udp"}]})
    st = fx.status()
    ip, backends = st["service"]["clusterIP"], {e["pod"] for e in st["endpoints"]}
    client = namespace.probe_pod("client", namespace.workers[0])
    metrics["programming_s"] = namespace.wait_serving(client, f"http://{ip}:80/", backends)
    for port in (80, 8000):
        answer = namespace.probe(client, "get", f"http://{ip}:{port}/", "60")
        metrics[f"tcp_{port}"] = answer["counts"]
        assert answer["errors"] == {} and set(answer["counts"]) == backends, f"port {port}: {answer}"
    udp = namespace.probe(client, "udp", f"{ip}:53", "90")
    metrics["udp_53"] = udp
    assert set(udp["counts"]) == backends, f"UDP answers came from {sorted(udp['counts'])}, not all backends"
    assert sum(udp["errors"].values()) <= 2, f"UDP datagrams lost: {udp['errors']}"


def test_internal_traffic_policy_local_keeps_traffic_on_the_node(namespace: Namespace, metrics: dict[str, Any]) -> None:
    if len(namespace.workers) < 2:
        pytest.skip("needs 2 worker nodes")
    fx = namespace.fixture("local", {"replicas": 4, "internalTrafficPolicy": "Local"})
    st = fx.status()
    nodes = {e["pod"]: e["node"] for e in st["endpoints"]}
    url = f"http://{st['service']['clusterIP']}/"
    for worker in namespace.workers[:2]:
        local = {p for p, n in nodes.items() if n == worker}
        assert local, f"no backend landed on {worker}; spread placement failed: {nodes}"
        client = namespace.probe_pod(f"client-{worker.rsplit('-', 1)[-1]}", worker)
        namespace.wait_serving(client, url, local)
        answer = namespace.probe(client, "get", url, "60")
        metrics[worker] = {"counts": answer["counts"], "local_backends": sorted(local)}
        assert answer["errors"] == {}, answer["errors"]
        assert set(answer["counts"]) == local, f"client on {worker} reached {sorted(answer['counts'])}, " \
                                               f"not only its node-local backends {sorted(local)}"


@pytest.mark.parametrize("placement", ["same-node", "other-node"])
def test_backend_sees_the_client_pod_ip(namespace: Namespace, placement: str, metrics: dict[str, Any]) -> None:
    if len(namespace.workers) < 2:
        pytest.skip("needs 2 worker nodes")
    backend_node = namespace.workers[1]
    fx = namespace.fixture(f"src-{placement}", {"replicas": 2, "placement": {"nodes": [backend_node]}})
    st = fx.status()
    url = f"http://{st['service']['clusterIP']}/"
    client_node = backend_node if placement == "same-node" else namespace.workers[0]
    client = namespace.probe_pod(f"client-{placement}", client_node)
    namespace.wait_serving(client, url, {e["pod"] for e in st["endpoints"]})
    answer = namespace.probe(client, "get", url, "20")
    pod_ip = namespace.pod_ip(client)
    metrics.update(client_ip=pod_ip, seen=answer["clients"])
    assert answer["errors"] == {}
    assert set(answer["clients"]) == {pod_ip}, f"backends saw {answer['clients']}, not the client pod IP {pod_ip}"
