"""Smoke: DNS, reachability of every backend through a ClusterIP, and prompt refusal without endpoints.

Setup: 3 echo backends pinned to one worker, a probe client pod pinned to another worker, so
every request crosses nodes through the proxy under test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from proxylab import manifests
from suites.namespaces import Namespace

pytestmark = pytest.mark.e2e

BACKENDS = 3
REQUESTS = 300


@dataclass
class SmokeApp:
    ns: Namespace
    cluster_ip: str
    empty_ip: str
    backends: set[str]
    client: str
    client_node: str
    backend_node: str


@pytest.fixture(scope="module")
def app(namespace: Namespace) -> SmokeApp:
    if len(namespace.workers) < 2:
        pytest.skip("the smoke test needs 2 worker nodes (client and backends on different nodes)")
    client_node, backend_node = namespace.workers[0], namespace.workers[1]
    namespace.apply(manifests.echo_deployment("echo", namespace.image, BACKENDS, node=backend_node))
    namespace.apply(manifests.service("echo", {"app": "echo"}))
    namespace.apply(manifests.service("empty", {"app": "nothing-matches-this"}))
    namespace.apply(manifests.probe_pod("client", namespace.image, node=client_node))
    namespace.wait_ready("app=echo", BACKENDS)
    namespace.wait_ready("role=probe", 1)
    core = namespace.core()
    pods = core.list_namespaced_pod(namespace.name, label_selector="app=echo").items
    ip = core.read_namespaced_service("echo", namespace.name).spec.cluster_ip
    namespace.wait_serving("client", f"http://{ip}/", {p.metadata.name for p in pods})
    return SmokeApp(
        ns=namespace,
        cluster_ip=core.read_namespaced_service("echo", namespace.name).spec.cluster_ip,
        empty_ip=core.read_namespaced_service("empty", namespace.name).spec.cluster_ip,
        backends={p.metadata.name for p in pods},
        client="client", client_node=client_node, backend_node=backend_node,
    )


@pytest.mark.parametrize("form", ["short", "namespaced", "fqdn"])
def test_service_dns_name_resolves_to_cluster_ip(app: SmokeApp, form: str, metrics: dict[str, object]) -> None:
    name = {"short": "echo", "namespaced": f"echo.{app.ns.name}",
            "fqdn": f"echo.{app.ns.name}.svc.cluster.local"}[form]
    answer = app.ns.probe(app.client, "resolve", name)
    metrics.update(name=name, addresses=answer.get("addresses"), cluster_ip=app.cluster_ip)
    assert answer.get("addresses") == [app.cluster_ip], answer


def test_cluster_ip_reaches_every_backend_across_nodes(app: SmokeApp, metrics: dict[str, object]) -> None:
    answer = app.ns.probe(app.client, "get", f"http://{app.cluster_ip}/", str(REQUESTS))
    counts: dict[str, int] = answer["counts"]
    metrics.update(requests=REQUESTS, counts=counts, errors=answer["errors"],
                   client_node=app.client_node, backend_node=app.backend_node)
    assert answer["errors"] == {}, f"requests through the ClusterIP failed: {answer['errors']}"
    assert set(counts) == app.backends, f"backends reached {sorted(counts)} != backends {sorted(app.backends)}"


def test_service_without_endpoints_refuses_within_one_second(app: SmokeApp, metrics: dict[str, object]) -> None:
    answer = app.ns.probe(app.client, "connect", f"{app.empty_ip}:80")
    metrics.update(connect_ms=answer["ms"], outcome=answer.get("kind", "connected"))
    assert not answer["ok"], "a Service without endpoints accepted a connection"
    assert answer.get("kind") == "refused", f"expected connection refused, got {answer}"
    assert answer["ms"] < 1000, f"refusal took {answer['ms']} ms (must be < 1000 ms, not a timeout)"
