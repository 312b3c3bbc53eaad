"""Property: LoadSpec is built or refused with a LoadSpecError naming the field, for any values;
what it accepts gives locust arguments that say exactly what was asked (one target per target)."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from loadgen.errors import LoadSpecError
from loadgen.spec import LoadSpec

from .props import JSON_SCALARS, props

FIELDS = [f.name for f in dataclasses.fields(LoadSpec)]
# The fields generated here (a field added later keeps its default until it is listed).
KNOWN = ("targets", "users", "spawn_rate", "duration_s", "max_requests", "keep_alive", "sticky", "workers",
         "rate_per_user", "path", "request_timeout_s", "node", "labels")
GOOD_TARGETS = st.sampled_from(["echo.ns.svc:80", "10.244.1.5:8080", "[fd00::1]:80", "a:1", "a:65535"])
BAD_TARGETS = st.builds(lambda host, port: f"{host}:{port}", st.text(max_size=12), st.integers(-5, 70000)) \
    | st.text(max_size=20) | st.sampled_from(["a:80,b:80", "a:0", "a:99999", "a :80", ":80", "a:"])
ODD = JSON_SCALARS | st.lists(JSON_SCALARS, max_size=3) | st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=2)


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten: most specs get past the first field, so every field is tried."""
    return st.integers(min_value=0, max_value=9).flatmap(lambda i: good if i else bad)


def _near(name: str) -> st.SearchStrategy[Any]:
    """Plausible values of one field, boundaries and wrong types included."""
    good: dict[str, st.SearchStrategy[Any]] = {
        "targets": st.lists(GOOD_TARGETS, min_size=1, max_size=3).map(tuple),
        "users": st.sampled_from([1, 10, 10_000]), "workers": st.sampled_from([1, 50]),
        "duration_s": st.sampled_from([1, 15, 600]), "max_requests": st.none() | st.sampled_from([1, 1000]),
        "spawn_rate": st.sampled_from([0.5, 10, 1e6]), "rate_per_user": st.none() | st.sampled_from([0.1, 200]),
        "request_timeout_s": st.sampled_from([0.1, 3.0]), "path": st.sampled_from(["/", "/x?y=1"]),
        "node": st.none() | st.just("w1"), "labels": st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
        "keep_alive": st.booleans(), "sticky": st.booleans(),
    }
    numbers = st.integers(-2, 12_000) | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0, 601, 2.5])
    bad = {"targets": st.lists(GOOD_TARGETS | BAD_TARGETS, max_size=3).map(tuple) | BAD_TARGETS | ODD,
           "path": st.text(max_size=8) | ODD, "node": st.text(max_size=6) | ODD, "labels": ODD,
           "keep_alive": ODD, "sticky": ODD}.get(name, numbers | ODD)
    return _mostly(good.get(name, ODD), bad)


@props(300)
@given(st.fixed_dictionaries({"targets": _near("targets")},
                             optional={n: _near(n) for n in KNOWN if n != "targets" and n in FIELDS}))
def test_any_field_values_build_or_name_the_field(kwargs: dict[str, Any]) -> None:
    try:
        spec = LoadSpec(**kwargs)
    except LoadSpecError as exc:
        message = str(exc)
        assert any(message.startswith(name) for name in FIELDS), message
        return
    assert 1 <= spec.users <= 10_000 and isinstance(spec.users, int) and not isinstance(spec.users, bool)
    assert math.isfinite(spec.spawn_rate) and spec.spawn_rate > 0
    assert math.isfinite(spec.request_timeout_s) and spec.request_timeout_s > 0
    args = spec.master_args("/l.py")
    assert args[args.index("--pl-targets") + 1].split(",") == list(spec.targets), "a target became two"
    assert all(1 <= int(t.rpartition(":")[2]) <= 65535 for t in spec.targets)
    json.loads(args[args.index("--pl-spec") + 1])
    spec.worker_args("/l.py", "10.0.0.1")
