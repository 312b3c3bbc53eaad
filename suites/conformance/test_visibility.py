"""Visibility from outside the cluster (a testcontainers helper on the kind docker network): the
ClusterIP is unreachable, a NodePort Service answers on every node's IP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from testcontainers.core.container import DockerContainer

from proxylab import docker as docker_mod
from proxylab.cluster import NETWORK
from suites.namespaces import Namespace

pytestmark = pytest.mark.e2e


def outside(image: str, *args: str) -> dict[str, Any]:
    """Run `/echo ARGS` in a throw-away container on the kind network, outside every node."""
    container = (DockerContainer(image).with_command(" ".join(args))
                 .with_kwargs(network=NETWORK, labels={docker_mod.LABEL: "outside-probe"}))
    container.start()
    try:
        wrapped = container.get_wrapped_container()
        wrapped.wait(timeout=60)
        parsed: dict[str, Any] = json.loads(wrapped.logs().decode().strip().splitlines()[-1])
        return parsed
    finally:
        container.stop()


def node_ips(namespace: Namespace) -> dict[str, str]:
    return {n.metadata.name: next(a.address for a in n.status.addresses if a.type == "InternalIP")
            for n in namespace.core().list_node().items}


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
