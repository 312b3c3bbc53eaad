"""The fixture operator's own tests: its handlers run in this process under kopf's testing kit
(KopfRunner) against the session's real cluster, in a `kopftest-*` namespace that the in-cluster
operator is configured to leave alone.

Only faults that act through the API (kill, drain) are exercised here: readiness and latency
faults talk to pods over the pod network, which this host cannot (and must not) reach — the
conformance suite covers them through the in-cluster operator.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kubernetes import client

from operators.fixture import FIXTURE_LABEL, GROUP, PLURAL, VERSION
from operators.fixture import client as fixtures
from operators.fixture.deploy import TESTKIT_PREFIX
from operators.fixture.spec import DEFAULT_IMAGE_ENV, InvalidSpec
from proxylab import kube, manifests
from proxylab.cluster import ClusterInfo
from proxylab.images.catalog import cluster_catalog
from proxylab.wait import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ns(cluster: ClusterInfo, fixture_operator: float) -> Iterator[tuple[client.ApiClient, str]]:
    api = kube.api_client(cluster.kubeconfig)
    name = f"{TESTKIT_PREFIX}{uuid.uuid4().hex[:6]}"
    kube.apply(api, manifests.namespace(name))
    try:
        yield api, name
    finally:
        _release_fixtures(api, name)
        kube.delete_namespace(api, name)


def _release_fixtures(api: client.ApiClient, namespace: str) -> None:
    """Drop kopf's finalizer from the fixtures left in ``namespace``: the in-process operator that
    put it there has stopped and the in-cluster one leaves kopftest-* alone, so without this the
    namespace stays Terminating for ever (seen on a cluster that outlives the session)."""
    custom = client.CustomObjectsApi(api)
    for item in custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]:
        try:
            custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, item["metadata"]["name"],
                                                  {"metadata": {"finalizers": None}})
        except client.ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture
def operator(cluster: ClusterInfo, ns: tuple[client.ApiClient, str],
             monkeypatch: pytest.MonkeyPatch) -> Iterator[KopfRunner]:
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.setenv(DEFAULT_IMAGE_ENV, cluster_catalog().echo)  # as deploy.py sets it in-cluster
    args = ["run", "--standalone", "--namespace", ns[1], "-m", "operators.fixture.handlers"]
    with KopfRunner(args, timeout=60) as runner:
        yield runner
    assert runner.exception is None, runner.output[-2000:]
    assert runner.exit_code == 0, runner.output[-2000:]


def _children(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    found: dict[str, Any] = {}
    for kind, read in (("deployment", apps.read_namespaced_deployment), ("service", core.read_namespaced_service)):
        try:
            found[kind] = read(name, namespace)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
    return found


def test_fixture_becomes_owned_children_and_a_live_status(operator: KopfRunner, ns: tuple[client.ApiClient, str],
                                                          metrics: dict[str, Any]) -> None:
    api, namespace = ns
    fx = fixtures.create(api, namespace, "web", {"replicas": 2})
    st = fx.wait_ready(timeout=180)
    uid = fx.get()["metadata"]["uid"]
    children = _children(api, namespace, "web")
    for kind, obj in children.items():
        owners = obj.metadata.owner_references or []
        assert [o.uid for o in owners] == [uid], f"{kind} is not owned by the fixture: {owners}"
    assert st["service"]["clusterIP"] == children["service"].spec.cluster_ip
    assert st["observedGeneration"] == fx.get()["metadata"]["generation"]
    assert len(st["endpoints"]) == 2 and all(e["ready"] and e["ip"] and e["node"] for e in st["endpoints"])
    metrics.update(endpoints=st["endpoints"])


def test_spec_changes_reach_the_service_including_a_removed_port(
        operator: KopfRunner, ns: tuple[client.ApiClient, str], metrics: dict[str, Any]) -> None:
    """Ports added to and removed from the spec are what the Service has afterwards (a strategic
    merge patch kept removed ports), and a NodePort keeps its allocated nodePort for the port it keeps."""
    api, namespace = ns
    two = [{"name": "web", "port": 80, "targetPort": "http"}, {"name": "alt", "port": 8000, "targetPort": "http"}]
    fx = fixtures.create(api, namespace, "ports", {"replicas": 1, "serviceType": "NodePort", "ports": two})
    fx.wait_ready(timeout=180)
    core = client.CoreV1Api(api)

    def ports() -> dict[int, int]:
        return {p.port: p.node_port for p in core.read_namespaced_service("ports", namespace).spec.ports}

    before = ports()
    fx.patch_spec({"ports": two[:1]})
    wait_for(lambda: (set(ports()) == {80}, f"Service ports {ports()}"), timeout=60, what="port 8000 removed")
    after = ports()
    metrics.update(before=before, after=after)
    assert after[80] == before[80], f"the kept port's nodePort changed: {before} -> {after}"


def test_invalid_spec_is_reported_and_creates_nothing(operator: KopfRunner, ns: tuple[client.ApiClient, str],
                                                      metrics: dict[str, Any]) -> None:
    api, namespace = ns
    fx = fixtures.create(api, namespace, "bad", {"replicas": 1, "faults": [{"id": "x", "action": "kill", "pods": ["nope"]}]})
    wait_for(lambda: (fx.condition("InvalidSpec").get("status") == "True", f"conditions {fx.status()}"),
             timeout=60, what="InvalidSpec condition")
    message = fx.condition("InvalidSpec")["message"]
    metrics.update(message=message)
    assert "spec.faults[0].pods[0]" in message, message
    assert _children(api, namespace, "bad") == {}, "an invalid fixture created children"
    # The operator keeps serving other resources.
    fixtures.create(api, namespace, "good", {"replicas": 1}).wait_ready(timeout=120)


def test_api_server_rejects_what_the_schema_can_check(ns: tuple[client.ApiClient, str]) -> None:
    api, namespace = ns
    with pytest.raises(client.ApiException) as err:
        fixtures.create(api, namespace, "neg", {"replicas": -1}, validate=False)
    assert err.value.status == 422 and "spec.replicas" in str(err.value.body)
    with pytest.raises(client.ApiException) as err:
        fixtures.create(api, namespace, "act", {"faults": [{"id": "a", "action": "explode", "count": 1}]},
                        validate=False)
    assert err.value.status == 422 and "spec.faults[0].action" in str(err.value.body)
    # Strict field validation: a misspelt field is refused, not pruned into the default of 3 replicas.
    with pytest.raises(client.ApiException) as err:
        fixtures.create(api, namespace, "typo", {"replica": 5}, validate=False)
    assert err.value.status in (400, 422) and "replica" in str(err.value.body), err.value.body
    # Without validate=False the client refuses them before the API server sees them, naming the field.
    for spec, field in (({"replicas": -1}, "spec.replicas"), ({"replica": 5}, "spec.replica")):
        with pytest.raises(InvalidSpec) as invalid:
            fixtures.create(api, namespace, "never", spec)
        assert invalid.value.field == field


def test_kill_by_name_is_replaced_and_later_faults_still_apply(operator: KopfRunner, ns: tuple[client.ApiClient, str],
                                                               metrics: dict[str, Any]) -> None:
    api, namespace = ns
    fx = fixtures.create(api, namespace, "victim", {"replicas": 2})
    before = {e["pod"] for e in fx.wait_ready(timeout=180)["endpoints"]}
    target = sorted(before)[0]
    fx.add_fault("k1", "kill", pods=[target])
    record = fx.wait_fault("k1")
    assert record["pods"] == [target]
    after = {e["pod"] for e in fx.wait_ready(timeout=120)["endpoints"]}
    assert target not in after and len(after) == 2, f"{target} was not replaced: {after}"
    fx.add_fault("k2", "kill", count=1)  # the spec still names the dead pod in k1
    fx.wait_fault("k2")
    assert fx.condition("InvalidSpec").get("status") == "False", fx.status()["conditions"]
    metrics.update(killed=[target, *fx.fault_record("k2")["pods"]])


def test_deleting_the_fixture_removes_its_children(operator: KopfRunner, ns: tuple[client.ApiClient, str]) -> None:
    api, namespace = ns
    fx = fixtures.create(api, namespace, "gone", {"replicas": 1})
    fx.wait_ready(timeout=120)
    fx.delete()
    wait_for(lambda: (not (c := _children(api, namespace, "gone")), f"children left: {sorted(c)}"), timeout=60,
             what="garbage collection of the fixture's children")
    wait_for(lambda: (not client.CoreV1Api(api).list_namespaced_pod(
        namespace, label_selector=f"{FIXTURE_LABEL}=gone").items, "pods left"), timeout=60, what="pods gone")
