"""Shared hypothesis settings and strategies for the property tests (test_properties_*.py).

Every property states: for any generated input the outcome is success or the project's own
error naming the field or file; never another exception. Example counts are modest so the unit
env stays fast; CI (CI=true) draws the same examples every time (derandomized), a developer's
run draws new ones. PROXYLAB_PROPERTY_SCALE=10 multiplies every count (a longer hunt by hand).
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = 250


def props(examples: int = EXAMPLES) -> settings:
    """Settings of one property test: ``examples`` inputs, no deadline, no example database."""
    scale = float(os.environ.get("PROXYLAB_PROPERTY_SCALE", "1"))
    return settings(max_examples=max(1, int(examples * scale)), deadline=None, database=None,
                    derandomize=bool(os.environ.get("CI")),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


# Scalars JSON can hold (and Python's json module reads: NaN and the infinities included).
JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars, lists and objects nested a few levels."""
    return st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=max_leaves)


def paths_in(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) to a node of a JSON value, the root included."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths_in(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths_in(v, (*prefix, i))
    return out


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``value`` with the node at ``path`` replaced by ``new`` (``DELETE`` removes it)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        out = dict(value)
        if new is DELETE and not rest:
            out.pop(head, None)
        else:
            out[head] = replaced(value[head], rest, new)
        return out
    items = list(value)
    if new is DELETE and not rest:
        del items[head]
    else:
        items[head] = replaced(items[head], rest, new)
    return items


DELETE = object()


def mutations(base: Any, values: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """``base`` with one to three nodes replaced by other JSON values or deleted."""
    values = values if values is not None else json_values(6)

    @st.composite
    def mutate(draw: st.DrawFn) -> Any:
        doc = base
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            path = draw(st.sampled_from(paths_in(doc)))
            doc = replaced(doc, path, draw(st.just(DELETE) | values) if path else draw(values))
        return doc

    return mutate()
