"""The fixture spec has one definition, the CRD's schema: the Python validator walks it (issue 12)."""

from __future__ import annotations

from typing import Any

import pytest

from operators.fixture import client as fixtures
from operators.fixture import schema
from operators.fixture.spec import InvalidSpec, parse

SUPPORTED = {"type", "properties", "required", "additionalProperties", "enum", "minimum", "maximum", "minLength",
             "maxLength", "pattern", "minItems", "maxItems", "items", "default", "description",
             "x-kubernetes-int-or-string"}


def _keywords(node: dict[str, Any]) -> set[str]:
    found = set(node)
    for sub in node.get("properties", {}).values():
        found |= _keywords(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found |= _keywords(node[key])
    return found


def test_the_walker_understands_every_keyword_the_crd_uses() -> None:
    assert _keywords(schema.spec_schema()) <= SUPPORTED, "a CRD keyword schema.py would ignore"
    assert "x-kubernetes-preserve-unknown-fields" not in _keywords(schema.spec_schema()), \
        "spec must not keep unknown fields: a misspelt field would pass unnoticed"


@pytest.mark.parametrize(("spec", "field", "message"), [
    ({"readiness": True}, "spec.readiness", "expected an object"),
    ({"faults": [{"id": "f", "action": "kill", "pods": True}]}, "spec.faults[0].pods", "expected a list"),
    ({"faults": [{"id": "f", "action": "kill", "pods": 5}]}, "spec.faults[0].pods", "expected a list"),
    ({"faults": [{"id": "f", "action": "kill", "pods": "p-1"}]}, "spec.faults[0].pods", "expected a list"),
    ({"placement": {"spread": "false"}}, "spec.placement.spread", "expected a boolean"),
    ({"replica": 5}, "spec.replica", "unknown field (did you mean replicas?"),
    ({"ports": [{"name": "a" * 16, "port": 80}]}, "spec.ports[0].name", "at most 15 characters"),
    ({"ports": [{"name": "Web", "port": 80}]}, "spec.ports[0].name", "must match"),
    ({"ports": [{"name": f"p{i}", "port": 80 + i} for i in range(11)]}, "spec.ports", "at most 10 items"),
    ({"faults": [{"id": f"f{i}", "action": "kill", "count": 1} for i in range(101)]}, "spec.faults",
     "at most 100 items"),
    ({"faults": [{"id": "f" * 64, "action": "kill", "count": 1}]}, "spec.faults[0].id", "at most 63 characters"),
    ({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}, "spec.ports[1].port", "duplicate port 80/TCP"),
    ({"replicas": 2, "faults": [{"id": "f", "action": "kill", "count": 3}]}, "spec.faults[0].count",
     "the fixture has 2 replicas"),
    ({"faults": [{"id": "f", "action": "kill", "pods": ["a", "a"]}]}, "spec.faults[0].pods[1]", "named twice"),
    ({"ports": [{"name": "a", "port": 80, "targetPort": 0}]}, "spec.ports[0].targetPort", "between 1 and 65535"),
    ({"ports": [{"name": "a", "port": 80, "targetPort": True}]}, "spec.ports[0].targetPort", "integer or a string"),
    ({"labels": {"a b": "x"}}, "spec.labels.a b", "not a valid label key"),
    ({"labels": {"a": "x y"}}, "spec.labels.a", "must match"),
    ({"replicas": 3.0}, "spec.replicas", "expected an integer"),
    ({"ports": [{"port": 80}]}, "spec.ports[0].name", "required field missing"),
    ({"faults": [{"id": "f", "action": "kill", "count": 1, "delay": 5}]}, "spec.faults[0].delay", "unknown field"),
])
def test_bad_specs_are_refused_naming_the_field(spec: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as err:
        parse(spec)
    assert err.value.field == field and message in str(err.value), str(err.value)


def test_limits_and_defaults_come_from_the_crd() -> None:
    assert schema.at("ports")["maxItems"] == 10 and schema.at("ports[].name")["maxLength"] == 15
    assert schema.at("faults")["maxItems"] == 100 and schema.at("faults[].id")["maxLength"] == 63
    spec = parse({"faults": [{"id": "f", "action": "kill", "count": 1}]})
    assert (spec.replicas, spec.spread, spec.readiness_period_seconds, spec.faults[0].delay_ms) == (3, True, 1, 0)
    ok = parse({"ports": [{"name": "a" * 15, "port": 80}, {"name": "dns", "port": 80, "protocol": "UDP",
                                                         "targetPort": "udp"}]})
    assert [p.port for p in ok.ports] == [80, 80], "the same number over TCP and UDP is two ports"


def test_the_input_is_never_changed() -> None:
    spec: dict[str, Any] = {"placement": {}, "ports": [{"name": "a", "port": 80}]}
    parse(spec)
    assert spec == {"placement": {}, "ports": [{"name": "a", "port": 80}]}


def test_an_applied_fault_is_history_not_checked_against_replicas_again() -> None:
    spec = {"replicas": 1, "faults": [{"id": "k", "action": "kill", "count": 2}]}
    assert parse(spec, applied_faults=frozenset({"k"})).faults[0].count == 2


def test_client_patches_are_validated_as_the_merged_spec() -> None:
    assert fixtures.merge_patch({"replicas": 2, "placement": {"spread": True, "nodes": ["w1"]}},
                                {"placement": {"nodes": None}, "drainSeconds": 3}) == \
        {"replicas": 2, "placement": {"spread": True}, "drainSeconds": 3}


def test_without_an_image_and_without_the_operators_default_rendering_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from operators.fixture import render
    from operators.fixture.spec import DEFAULT_IMAGE_ENV

    monkeypatch.delenv(DEFAULT_IMAGE_ENV)
    spec = parse({"replicas": 1})  # valid as a spec: the default is the operator's to give
    with pytest.raises(InvalidSpec) as err:
        render.deployment("fx", spec)
    assert err.value.field == "spec.image" and DEFAULT_IMAGE_ENV in str(err.value)
    named = render.deployment("fx", parse({"replicas": 1, "image": "x/echo:1"}))
    assert named["spec"]["template"]["spec"]["containers"][0]["image"] == "x/echo:1"
