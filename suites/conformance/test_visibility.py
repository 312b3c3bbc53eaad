"""Visibility from outside the cluster (a testcontainers helper on the kind docker network): the
ClusterIP is unreachable, a NodePort Service answers on every node's IP."""

from __future__ import annotations

from typing import Any

import pytest

from suites.namespaces import Namespace
from suites.outside import node_ips, outside

pytestmark = [pytest.mark.e2e, pytest.mark.node_access]  # a container beside the nodes, on their network


def test_cluster_ip_is_unreachable_from_outside(namespace: Namespace, metrics: dict[str, Any]) -> None:
    fx = namespace.fixture("inside", {"replicas": 2})
    ip = fx.status()["service"]["clusterIP"]
    answer = outside(namespace.image, "connect", f"{ip}:80")
    metrics.update(cluster_ip=ip, answer=answer)
    assert not answer["ok"], f"the ClusterIP {ip} answered a container outside the cluster"


def test_node_port_answers_on_every_node(namespace: Namespace, metrics: dict[str, Any]) -> None:
    fx = namespace.fixture("np", {"replicas": 2, "serviceType": "NodePort"})
    st = fx.status()
    port = st["service"]["nodePorts"][0]
    backends = {e["pod"] for e in st["endpoints"]}
    client = namespace.probe_pod("client", namespace.workers[0])
    namespace.wait_serving(client, f"http://{st['service']['clusterIP']}/", backends)
    results = {}
    for node, ip in node_ips(namespace).items():
        answer = outside(namespace.image, "get", f"http://{ip}:{port}/", "20")
        results[node] = answer
        assert answer["errors"] == {}, f"NodePort {port} on {node} ({ip}) failed: {answer['errors']}"
        assert set(answer["counts"]) <= backends and answer["counts"], answer
    metrics.update(node_port=port, per_node=results)
