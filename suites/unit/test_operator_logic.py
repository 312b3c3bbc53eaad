from __future__ import annotations

from typing import Any

import pytest

from operators.fixture import FIXTURE_LABEL, deploy, render, status
from operators.fixture.faults import PodView, choose_targets
from operators.fixture.spec import Fault, InvalidSpec, parse


@pytest.mark.parametrize(("spec", "field"), [
    ({"replicas": -1}, "spec.replicas"),
    ({"replicas": "3"}, "spec.replicas"),
    ({"ports": [{"name": "a", "port": 70000}]}, "spec.ports[0].port"),
    ({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]}, "spec.ports[1].name"),
    ({"ports": [{"name": "a", "port": 80, "targetPort": "grpc"}]}, "spec.ports[0].targetPort"),
    ({"ports": [{"name": "a", "port": 80, "protocol": "UDP", "targetPort": "http"}]}, "spec.ports[0].targetPort"),
    ({"faults": [{"id": "f", "action": "explode", "count": 1}]}, "spec.faults[0].action"),
    ({"faults": [{"id": "f", "action": "kill"}]}, "spec.faults[0]"),
    ({"faults": [{"id": "f", "action": "slow", "count": 1}]}, "spec.faults[0].delayMs"),
    ({"faults": [{"id": "f", "action": "kill", "count": 1}, {"id": "f", "action": "kill", "count": 1}]},
     "spec.faults[1].id"),
    ({"sessionAffinityTimeoutSeconds": 10}, "spec.sessionAffinityTimeoutSeconds"),
    ({"externalTrafficPolicy": "Local"}, "spec.externalTrafficPolicy"),
])
def test_invalid_specs_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSpec) as err:
        parse(spec)
    assert err.value.field == field


def test_fault_naming_a_missing_pod_is_invalid_only_when_pods_are_known() -> None:
    spec = {"faults": [{"id": "f", "action": "kill", "pods": ["ghost"]}]}
    assert parse(spec).faults[0].pods == ("ghost",)
    with pytest.raises(InvalidSpec, match=r"spec.faults\[0\].pods\[0\]: pod 'ghost'"):
        parse(spec, existing_pods={"real-1"})
    # Once carried out (e.g. a kill), the fault may name a pod that no longer exists.
    assert parse(spec, existing_pods={"real-1"}, applied_faults=frozenset({"f"})).faults[0].pods == ("ghost",)


def test_defaults_give_a_three_backend_http_clusterip() -> None:
    spec = parse({})
    assert (spec.replicas, spec.service_type, spec.session_affinity) == (3, "ClusterIP", "None")
    assert [(p.port, p.target_port, p.protocol) for p in spec.ports] == [(80, 8080, "TCP")]


def test_render_children_select_by_fixture_label_and_are_least_privileged() -> None:
    spec = parse({"replicas": 5, "sessionAffinity": "ClientIP", "sessionAffinityTimeoutSeconds": 10,
                  "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 8081}],
                  "placement": {"nodes": ["w1"]}, "drainSeconds": 7})
    dep, svc = render.deployment("fx", spec), render.service("fx", spec)
    assert dep["spec"]["selector"]["matchLabels"] == {FIXTURE_LABEL: "fx"} == svc["spec"]["selector"]
    pod = dep["spec"]["template"]["spec"]
    sec = pod["containers"][0]["securityContext"]
    assert sec["runAsNonRoot"] and sec["readOnlyRootFilesystem"] and sec["capabilities"] == {"drop": ["ALL"]}
    assert pod["terminationGracePeriodSeconds"] == 12
    assert {"name": "DRAIN_SECONDS", "value": "7"} in pod["containers"][0]["env"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    # by the Node object's name (matchFields), not the hostname label, which may differ from it
    assert terms[0]["matchFields"] == [{"key": "metadata.name", "operator": "In", "values": ["w1"]}]
    assert svc["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10}}
    assert [p["protocol"] for p in svc["spec"]["ports"]] == ["TCP", "UDP"]
    assert svc["metadata"]["labels"][FIXTURE_LABEL] == "fx", "EndpointSlices inherit it: status updates rely on it"


def _pods(*specs: tuple[str, str]) -> list[PodView]:
    return [PodView(name, f"10.0.0.{i}", True, False, fault) for i, (name, fault) in enumerate(specs)]


def test_fault_targets_are_deterministic_and_respect_state() -> None:
    pods = _pods(("b", ""), ("a", ""), ("c", "unready"))
    assert [p.name for p in choose_targets(Fault("f", "kill", count=2), pods)] == ["a", "b"]
    assert [p.name for p in choose_targets(Fault("f", "unready", count=1), pods)] == ["a"]
    assert [p.name for p in choose_targets(Fault("f", "ready", count=1), pods)] == ["c"]
    with pytest.raises(ValueError, match="only 1 eligible"):
        choose_targets(Fault("f", "ready", count=2), pods)
    with pytest.raises(ValueError, match="not live"):
        choose_targets(Fault("f", "kill", pods=("zzz",)), pods)


def test_endpoints_from_slices_merge_ports_and_conditions() -> None:
    slices = [{"endpoints": [{"addresses": ["10.1.0.5"], "nodeName": "w1", "targetRef": {"name": "p1"},
                              "conditions": {"ready": True, "serving": True, "terminating": False}}]},
              {"endpoints": [{"addresses": ["10.1.0.5"], "nodeName": "w1", "targetRef": {"name": "p1"},
                              "conditions": {"ready": True}},
                             {"addresses": ["10.1.0.6"], "nodeName": "w2", "targetRef": {"name": "p0"},
                              "conditions": {"ready": False, "serving": True, "terminating": True}}]}]
    eps = status.endpoints_from_slices(slices)
    assert [e["pod"] for e in eps] == ["p0", "p1"]
    assert eps[0] == {"pod": "p0", "ip": "10.1.0.6", "node": "w2", "ready": False, "serving": True,
                      "terminating": True}


def test_conditions_keep_transition_time_while_status_holds() -> None:
    first = status.merge_conditions(None, status.health(3, 3))
    ready = next(c for c in first if c["type"] == "Ready")
    again = status.merge_conditions([{**ready, "lastTransitionTime": "T0"}], status.health(3, 3))
    assert next(c for c in again if c["type"] == "Ready")["lastTransitionTime"] == "T0"
    degraded = status.merge_conditions(again, status.health(3, 2))
    assert next(c for c in degraded if c["type"] == "Degraded")["status"] == "True"


def test_operator_install_manifests_are_complete_and_least_privileged() -> None:
    docs = deploy.manifests("proxylab/fixture-operator:x", "proxylab/echo:y")
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "CustomResourceDefinition" and kinds[-1] == "Deployment"
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    verbs = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert "pods/exec" not in {r for _, r in verbs} and "pods/proxy" not in {r for _, r in verbs}
    assert not any("*" in v for v in verbs.values())
    assert verbs[("", "services")] == {"get", "create", "patch"}
    container = docs[-1]["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert any("!kopftest-*" in arg for arg in container["command"])
    assert {"name": "PROXYLAB_ECHO_IMAGE", "value": "proxylab/echo:y"} in container["env"]


def test_an_existing_child_is_replaced_by_a_merge_patch_so_removed_ports_go() -> None:
    """A strategic merge patch merges spec.ports by port: a port removed from the fixture stayed on
    its Service (found by suites/production/test_service_changes.py)."""
    from operators.fixture.handlers import MERGE_PATCH, _upsert

    calls: list[tuple[Any, ...]] = []
    body = {"spec": {"ports": [{"name": "http", "port": 80}]}}
    _upsert(lambda *a: calls.append(("create", *a)), lambda *a, **kw: calls.append(("patch", *a, kw)),
            lambda *a: None, "svc", "ns", body)
    assert calls == [("patch", "svc", "ns", body, {"_content_type": MERGE_PATCH})]
