"""DNS names resolve to the ClusterIP; the Service is reachable from every vantage point inside
the cluster: a pod on the backends' node, a pod on another node, a node's host network, and a
backend reaching its own Service (hairpin)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from proxylab.shell import run
from suites.namespaces import Namespace

from .checks import assert_all_backends_answer

pytestmark = pytest.mark.e2e


@dataclass
class Setup:
    ns: Namespace
    ip: str
    backends: set[str]
    backend_node: str
    other_node: str


@pytest.fixture(scope="module")
def setup(namespace: Namespace) -> Setup:
    if len(namespace.workers) < 2:
        pytest.skip("needs 2 worker nodes")
    other, backend_node = namespace.workers[0], namespace.workers[1]
    fx = namespace.fixture("web", {"replicas": 3, "placement": {"nodes": [backend_node], "spread": False}})
    st = fx.status()
    namespace.probe_pod("same-node", backend_node)
    namespace.probe_pod("other-node", other)
    backends = {e["pod"] for e in st["endpoints"]}
    for probe in ("same-node", "other-node"):
        namespace.wait_serving(probe, f"http://{st['service']['clusterIP']}/", backends)
    return Setup(namespace, st["service"]["clusterIP"], {e["pod"] for e in st["endpoints"]}, backend_node, other)


@pytest.mark.parametrize("form", ["short", "namespaced", "fqdn"])
def test_dns_name_resolves_to_cluster_ip(setup: Setup, form: str, metrics: dict[str, object]) -> None:
    name = {"short": "web", "namespaced": f"web.{setup.ns.name}", "fqdn": f"web.{setup.ns.name}.svc.cluster.local"}[form]
    answer = setup.ns.probe("other-node", "resolve", name)
    metrics.update(name=name, addresses=answer.get("addresses"), cluster_ip=setup.ip)
    assert answer.get("addresses") == [setup.ip], answer


@pytest.mark.parametrize("client", ["same-node", "other-node"])
def test_pod_reaches_every_backend(setup: Setup, client: str, metrics: dict[str, object]) -> None:
    assert_all_backends_answer(setup.ns, client, f"http://{setup.ip}/", setup.backends, 150, metrics, client)


@pytest.mark.node_access
@pytest.mark.parametrize("where", ["backend-node", "other-node"])
def test_host_network_client_on_a_node_reaches_the_service(setup: Setup, where: str, metrics: dict[str, object]) -> None:
    node = setup.backend_node if where == "backend-node" else setup.other_node
    seen = set()
    for _ in range(30):
        res = run(["docker", "exec", node, "curl", "-sS", "--max-time", "3", f"http://{setup.ip}/"], check=False)
        assert res.returncode == 0, f"hostNetwork request from {node} failed: {res.stdout}"
        seen.add(res.stdout.split('"pod":"')[1].split('"')[0])
    metrics.update(node=node, backends_seen=sorted(seen))
    assert seen <= setup.backends and len(seen) >= 2, f"host-network client on {node} saw only {seen}"


def test_hairpin_backend_reaches_itself_through_its_service(namespace: Namespace, metrics: dict[str, object]) -> None:
    fx = namespace.fixture("solo", {"replicas": 1})
    st = fx.status()
    pod = st["endpoints"][0]["pod"]
    metrics["programming_seconds"] = namespace.wait_serving(pod, f"http://{st['service']['clusterIP']}/")
    answer = namespace.probe(pod, "get", f"http://{st['service']['clusterIP']}/", "20")
    metrics.update(pod=pod, counts=answer["counts"], errors=answer["errors"], clients=answer["clients"])
    assert answer["errors"] == {}, f"hairpin requests failed: {answer['errors']}"
    assert answer["counts"] == {pod: 20}
