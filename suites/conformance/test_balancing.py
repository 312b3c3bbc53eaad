"""Balancing fairness over 5 backends with a new TCP connection per request.

Verdict: chi-square goodness-of-fit against the uniform distribution at alpha = 0.001 AND an
effect-size bound (no backend more than 20 % off its fair share) at 3000 requests.
"""

from __future__ import annotations

import pytest

from suites.namespaces import Namespace

from .checks import assert_all_backends_answer, assert_fair

pytestmark = pytest.mark.e2e

BACKENDS = 5
REQUESTS = 3000


def test_new_connections_spread_evenly_over_five_backends(namespace: Namespace, metrics: dict[str, object]) -> None:
    fx = namespace.fixture("fair", {"replicas": BACKENDS})
    st = fx.status()
    backends = sorted(e["pod"] for e in st["endpoints"])
    client = namespace.probe_pod("client", namespace.workers[0])
    url = f"http://{st['service']['clusterIP']}/"
    metrics["programming_s"] = namespace.wait_serving(client, url, set(backends))
    counts = assert_all_backends_answer(namespace, client, url, set(backends), REQUESTS, metrics, "run")
    assert_fair(counts, backends, metrics)
