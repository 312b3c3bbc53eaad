"""Property: the fixture spec validator returns a FixtureSpec or raises InvalidSpec naming the
field, for any JSON; what it accepts renders into children and satisfies the CRD's schema."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from operators.fixture import render, schema
from operators.fixture.spec import FixtureSpec, InvalidSpec, parse

from .props import json_values, mutations, props

RICH = {
    "replicas": 4, "image": "proxylab/echo:0.1.0", "labels": {"team": "net", "example.com/tier": "a"},
    "ports": [{"name": "http", "port": 80, "targetPort": "http"},
              {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 8081}],
    "serviceType": "NodePort", "sessionAffinity": "ClientIP", "sessionAffinityTimeoutSeconds": 30,
    "internalTrafficPolicy": "Local", "externalTrafficPolicy": "Local", "drainSeconds": 5,
    "placement": {"spread": False, "nodes": ["w1", "w2"]}, "readiness": {"periodSeconds": 2, "failureThreshold": 3},
    "faults": [{"id": "k", "action": "kill", "count": 1}, {"id": "s", "action": "slow", "pods": ["p-1"], "delayMs": 50}],
}


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` about nine times in ten, so many specs get past the schema to the rules across fields."""
    return st.integers(min_value=0, max_value=9).flatmap(lambda i: good if i else bad)


def _from_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values near what the schema allows: valid ones and its boundaries mostly, one past a
    boundary, a wrong type or an unknown key now and then."""
    wrong = json_values(4)
    if node.get("x-kubernetes-int-or-string"):
        return _mostly(st.sampled_from([80, 8080, 8081, "http", "udp"]),
                       st.integers(min_value=-1, max_value=70000) | st.sampled_from(["grpc", ""]) | wrong)
    kind = node.get("type")
    if "enum" in node:
        return _mostly(st.sampled_from(node["enum"]), st.text(max_size=8) | wrong)
    if kind == "integer":
        lo, hi = node.get("minimum", -5), node.get("maximum", 10**6)
        return _mostly(st.sampled_from([lo, hi]) | st.integers(min_value=lo, max_value=min(hi, lo + 6)),
                       st.sampled_from([lo - 1, hi + 1]) | wrong)
    if kind == "boolean":
        return _mostly(st.booleans(), st.sampled_from(["false", "true", 0, 1]) | wrong)
    if kind == "string":
        hi = node.get("maxLength", 20)
        return _mostly(st.sampled_from(["p-1", "p-2", "w1", "a" * hi, "k", "s", "http"]),
                       st.text(alphabet="abcxyz019-.", max_size=hi + 2) | st.text(max_size=5) | wrong)
    if kind == "array":
        hi = node.get("maxItems", 4)
        items = _from_schema(node.get("items", {}))
        size = min(hi + 1, 12)
        return _mostly(st.lists(items, min_size=node.get("minItems", 0), max_size=3),
                       st.lists(items, min_size=size, max_size=size) | wrong)
    if kind == "object":
        if "additionalProperties" in node:
            return _mostly(st.dictionaries(st.sampled_from(["team", "a.b/c", "x"]),
                                           _from_schema(node["additionalProperties"]), max_size=3),
                           st.dictionaries(st.text(max_size=12), json_values(2), max_size=2) | wrong)
        fields = {k: _from_schema(v) for k, v in node.get("properties", {}).items()}
        required = set(node.get("required", []))
        known = st.fixed_dictionaries({k: v for k, v in fields.items() if k in required},
                                      optional={k: v for k, v in fields.items() if k not in required})
        unknown = st.dictionaries(st.sampled_from(["replica", "port", "extra", "Replicas"]), json_values(3),
                                  min_size=1, max_size=1)
        return _mostly(known, st.builds(lambda a, b: {**a, **b}, known, unknown) | wrong)
    return wrong


def _check(spec: Any, existing: set[str] | None = None, applied: frozenset[str] = frozenset()) -> None:
    try:
        parsed = parse(spec, existing_pods=existing, applied_faults=applied)
    except InvalidSpec as exc:
        assert exc.field.startswith("spec"), exc.field
        assert str(exc).startswith(f"{exc.field}: ") and len(str(exc)) > len(exc.field) + 2
        return
    assert isinstance(parsed, FixtureSpec)
    schema.check(spec, schema.spec_schema(), "spec")  # the CRD accepts what the operator accepts
    render.deployment("fx", parsed)
    render.service("fx", parsed)
    assert all(len(p.name) <= schema.at("ports[].name")["maxLength"] for p in parsed.ports)
    assert len({(p.port, p.protocol) for p in parsed.ports}) == len(parsed.ports)
    assert all(f.count <= parsed.replicas for f in parsed.faults if f.id not in applied)


@props(300)
@given(json_values())
def test_any_json_is_a_spec_or_an_invalid_spec_naming_the_field(spec: Any) -> None:
    _check(spec)


@props(300)
@given(st.fixed_dictionaries({}, optional={k: _from_schema(v) for k, v in schema.spec_schema()["properties"].items()}),
       st.none() | st.sets(st.sampled_from(["p-1", "p-2", "w1"])),
       st.frozensets(st.sampled_from(["k", "s", "a"])))
def test_specs_near_the_schema_limits(spec: Any, existing: set[str] | None, applied: frozenset[str]) -> None:
    _check(spec, existing, applied)


@props(250)
@given(mutations(RICH))
def test_mutations_of_a_valid_spec(spec: Any) -> None:
    _check(spec)


@props(200)
@given(st.text(alphabet="abc-1", min_size=1, max_size=20))
def test_port_name_limit_is_the_crds(name: str) -> None:
    ok = name[0] != "-" and name[-1] != "-" and len(name) <= schema.at("ports[].name")["maxLength"]
    try:
        parse({"ports": [{"name": name, "port": 80}]})
    except InvalidSpec as exc:
        assert not ok and exc.field == "spec.ports[0].name", str(exc)
    else:
        assert ok, name
