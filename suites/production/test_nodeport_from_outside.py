"""NodePort from outside the cluster (issue 11): a client container on the kind docker network,
beside the nodes (suites/outside.py), reaches a NodePort Service on each node's IP.

externalTrafficPolicy Local (backends on ONE worker): the backend sees the client's own IP; a node
without a local backend does not forward (a load balancer in front learns that from the
healthCheckNodePort, which answers 200 where local backends are and 503 elsewhere).
externalTrafficPolicy Cluster: every node forwards, and a node forwarding to another node's
backend source-NATs (the backend sees a node's IP, not the client's). ClientIP affinity keeps the
outside client's new connections on one backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from operators.fixture import FIXTURE_LABEL
from suites.namespaces import Namespace, UntilPoll, until_args
from suites.outside import Outside, node_ips

pytestmark = [pytest.mark.e2e, pytest.mark.node_access]  # a container beside the nodes, on their Docker network

# echo until: connect timeout / gap (ms) and deadline (s) while a node's proxy programs the Service
UNTIL_POLL = UntilPoll(deadline_s=60, timeout_ms=1000, gap_ms=100)
REQUESTS = 20
NO_FORWARD_CONNECTS = 3  # connects to a node without a local backend (2 s timeout each)


@dataclass
class NodePortService:
    """A NodePort fixture: its node port, backends and their nodes; for externalTrafficPolicy Local
    also the healthCheckNodePort of a LoadBalancer Service over the same backends (see local_service)."""

    name: str
    node_port: int
    backends: dict[str, str]  # pod -> node
    health_port: int = 0

    @property
    def backend_nodes(self) -> set[str]:
        return set(self.backends.values())


def _create(ns: Namespace, name: str, spec: dict[str, Any]) -> NodePortService:
    st = ns.fixture(name, {"serviceType": "NodePort", **spec}).status()
    return NodePortService(name, st["service"]["nodePorts"][0], {e["pod"]: e["node"] for e in st["endpoints"]})


def _local_load_balancer(ns: Namespace, fixture: str) -> int:
    """A LoadBalancer Service with externalTrafficPolicy Local over ``fixture``'s backends; its
    healthCheckNodePort. Kubernetes allocates that port only for type LoadBalancer (which the
    ServiceFixture CRD does not offer), and kube-proxy serves it on every node whether or not a
    load balancer controller gave the Service an address (kind has none: it stays pending)."""
    name = f"{fixture}-lb"
    ns.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
              "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                       "selector": {FIXTURE_LABEL: fixture},
                       "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}})
    port = ns.core().read_namespaced_service(name, ns.name).spec.health_check_node_port
    assert port, f"the LoadBalancer Service {ns.name}/{name} (externalTrafficPolicy Local) got no healthCheckNodePort"
    return int(port)


def _until(client: Outside, ip: str, port: int, want: str) -> dict[str, Any]:
    """Poll ``ip:port`` from outside until the outcome is ``want``; seconds it took in ``took_s``."""
    res = client.probe(*until_args(f"{ip}:{port}", want, UNTIL_POLL))
    res["took_s"] = round(res["hit"] - res["started"], 3) if res.get("hit") else None
    return res


@pytest.fixture(scope="module")
def client(namespace: Namespace) -> Iterator[Outside]:
    with Outside(namespace.image, "outside-nodeport") as c:
        yield c


@pytest.fixture(scope="module")
def nodes(namespace: Namespace) -> dict[str, str]:
    return node_ips(namespace)


@pytest.fixture(scope="module")
def local_service(namespace: Namespace) -> NodePortService:
    """externalTrafficPolicy Local with 2 backends, both on the last worker."""
    if len(namespace.workers) < 2:
        pytest.skip("needs 2 worker nodes: one with the backends, one without")
    svc = _create(namespace, "np-local", {"replicas": 2, "externalTrafficPolicy": "Local",
                                          "placement": {"nodes": [namespace.workers[-1]]}})
    svc.health_port = _local_load_balancer(namespace, svc.name)
    return svc


def test_local_policy_backend_sees_the_client_ip(local_service: NodePortService, client: Outside,
                                                 nodes: dict[str, str], metrics: dict[str, Any]) -> None:
    svc = local_service
    (node,) = svc.backend_nodes
    ready = _until(client, nodes[node], svc.node_port, "ok")
    answer = client.probe("get", f"http://{nodes[node]}:{svc.node_port}/", str(REQUESTS))
    metrics.update(node=node, first_answer_s=ready["took_s"], outside_ip=client.ip,
                   clients_seen=",".join(sorted(answer["clients"])), counts=answer["counts"],
                   errors=answer["errors"])
    assert ready["hit"], f"NodePort {svc.node_port} on {node} (local backends) never answered from outside: {ready}"
    assert answer["errors"] == {}, f"requests to {node}:{svc.node_port} failed: {answer['errors']}"
    assert set(answer["counts"]) <= set(svc.backends), answer
    assert set(answer["clients"]) == {client.ip}, \
        f"with externalTrafficPolicy Local the backends saw {answer['clients']}, not the client's IP {client.ip}"


def test_local_policy_node_without_backend_does_not_forward(local_service: NodePortService, client: Outside,
                                                            nodes: dict[str, str], metrics: dict[str, Any]) -> None:
    """Every node without a local backend refuses to forward: no connection is established (the
    failure kind is recorded: kube-proxy drops, so a timeout). First the node's health check port
    answers 503: its LoadBalancer Service was created after the fixture's backends were ready,
    so that node's proxy has synced them (the failure is the policy, not a proxy behind)."""
    svc = local_service
    others = sorted(set(nodes) - svc.backend_nodes)
    per_node: dict[str, Any] = {}
    for node in others:
        programmed = _until(client, nodes[node], svc.health_port, "http_503")
        res = client.probe("connect", f"{nodes[node]}:{svc.node_port}", str(NO_FORWARD_CONNECTS))
        per_node[node] = {"health_503_after_s": programmed["took_s"], "connected": len(res["ms"]),
                          "errors": res["errors"]}
    kinds = sorted({k for r in per_node.values() for k in r["errors"]})
    metrics.update(per_node=per_node, failure_kinds=",".join(kinds),
                   forwarded_connections=sum(r["connected"] for r in per_node.values()))
    for node, r in per_node.items():
        assert r["health_503_after_s"] is not None, f"{node}'s health check port never answered 503"
        assert r["connected"] == 0, f"{node} has no local backend but accepted {r['connected']} connections " \
                                    f"to NodePort {svc.node_port} (externalTrafficPolicy Local)"


def test_health_check_node_port_reports_local_backends(local_service: NodePortService, client: Outside,
                                                       nodes: dict[str, str], metrics: dict[str, Any]) -> None:
    """spec.healthCheckNodePort answers HTTP 200 on a node with local backends, 503 on the others
    (what a cloud load balancer uses to pick nodes)."""
    svc = local_service
    per_node: dict[str, Any] = {}
    for node, ip in sorted(nodes.items()):
        want = "ok" if node in svc.backend_nodes else "http_503"
        settled = _until(client, ip, svc.health_port, want)
        answer = client.probe("get", f"http://{ip}:{svc.health_port}/", "5")
        status = "200" if answer["counts"] and not answer["errors"] else ",".join(sorted(answer["errors"]))
        per_node[node] = {"local_backends": sum(1 for n in svc.backends.values() if n == node),
                          "expected": "200" if want == "ok" else "503", "status": status,
                          "settled_s": settled["took_s"]}
    metrics.update(health_check_node_port=svc.health_port, per_node=per_node,
                   nodes_200=sum(1 for r in per_node.values() if r["status"] == "200"),
                   nodes_503=sum(1 for r in per_node.values() if r["status"] == "http_503"))
    wrong = {n: r for n, r in per_node.items() if r["status"] != ("200" if r["expected"] == "200" else "http_503")}
    assert not wrong, f"healthCheckNodePort {svc.health_port} answered wrongly: {wrong}"


def test_cluster_policy_every_node_forwards_with_snat(namespace: Namespace, client: Outside, nodes: dict[str, str],
                                                      metrics: dict[str, Any]) -> None:
    """externalTrafficPolicy Cluster, backends on one worker: every node answers; a node that
    forwards to another node's backend source-NATs to a node address (the reply must come back
    through it), so the backend sees a node's IP and not the client's. On the backend's own node
    the source is recorded only: kube-proxy masquerades there too, an eBPF proxy need not."""
    if len(namespace.workers) < 2:
        pytest.skip("needs 2 worker nodes")
    svc = _create(namespace, "np-cluster", {"replicas": 2, "placement": {"nodes": [namespace.workers[-1]]}})
    per_node: dict[str, Any] = {}
    for node, ip in sorted(nodes.items()):
        ready = _until(client, ip, svc.node_port, "ok")
        answer = client.probe("get", f"http://{ip}:{svc.node_port}/", str(REQUESTS))
        per_node[node] = {"first_answer_s": ready["took_s"], "answered": sum(answer["counts"].values()),
                          "errors": answer["errors"], "clients_seen": sorted(answer["clients"]),
                          "local_backend": node in svc.backend_nodes}
    remote = {n: r for n, r in per_node.items() if not r["local_backend"]}
    metrics.update(outside_ip=client.ip, per_node=per_node, nodes_answering=sum(
        1 for r in per_node.values() if r["answered"] == REQUESTS),
        clients_seen_via_other_nodes=",".join(sorted({c for r in remote.values() for c in r["clients_seen"]})))
    for node, r in per_node.items():
        assert r["errors"] == {} and r["answered"] == REQUESTS, \
            f"NodePort {svc.node_port} on {node} (externalTrafficPolicy Cluster) failed: {r}"
    node_addresses = set(nodes.values())
    for node, r in remote.items():
        assert client.ip not in r["clients_seen"], \
            f"{node} forwarded to another node's backend without SNAT: the backend saw the client IP {client.ip}"
        assert set(r["clients_seen"]) <= node_addresses, \
            f"via {node} the backend saw {r['clients_seen']}, not a node address ({sorted(node_addresses)})"


def test_client_ip_affinity_from_outside(namespace: Namespace, client: Outside, nodes: dict[str, str],
                                         metrics: dict[str, Any]) -> None:
    """ClientIP affinity on a NodePort: many new connections from one outside client to a node's
    NodePort all land on one backend (3 backends spread over the nodes), on every node."""
    svc = _create(namespace, "np-sticky", {"replicas": 3, "sessionAffinity": "ClientIP"})
    per_node: dict[str, Any] = {}
    for node, ip in sorted(nodes.items()):
        _until(client, ip, svc.node_port, "ok")
        answer = client.probe("get", f"http://{ip}:{svc.node_port}/", str(2 * REQUESTS))
        per_node[node] = {"counts": answer["counts"], "errors": answer["errors"]}
    metrics.update(backends=len(svc.backends), per_node=per_node,
                   max_backends_per_node=max(len(r["counts"]) for r in per_node.values()))
    for node, r in per_node.items():
        assert r["errors"] == {}, f"NodePort {svc.node_port} on {node} failed: {r['errors']}"
        assert len(r["counts"]) == 1, f"ClientIP affinity broken via {node}: one client spread over {r['counts']}"
