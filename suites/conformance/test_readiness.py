"""A backend turned unready (without being killed) stops receiving new connections; once ready
again it gets them back. Both convergence times are recorded and bounded by the 30 s that the
upstream Kubernetes e2e tests allow."""

from __future__ import annotations

import time
from typing import Any

import pytest

from suites.namespaces import Namespace

from .checks import INTERVAL_MS, Series, assert_victim_excluded, now_ms

pytestmark = pytest.mark.e2e

BOUND_S = 30.0


def test_unready_backend_is_excluded_then_readmitted(namespace: Namespace, metrics: dict[str, Any]) -> None:
    fx = namespace.fixture("ready", {"replicas": 3})
    st = fx.status()
    victim = sorted(e["pod"] for e in st["endpoints"])[0]
    client = namespace.probe_pod("client", namespace.workers[0])
    url = f"http://{st['service']['clusterIP']}/"
    namespace.wait_serving(client, url, {e["pod"] for e in st["endpoints"]})

    series = Series(namespace, client, url, 24_000)
    time.sleep(3)
    unready_ms = now_ms()
    fx.add_fault("unready-1", "unready", pods=[victim])
    fx.wait_fault("unready-1")
    time.sleep(9)
    ready_ms = now_ms()
    fx.add_fault("ready-1", "ready", pods=[victim])
    fx.wait_fault("ready-1")
    samples = series.samples(90, before_ms=unready_ms)
    errors = [s for s in samples if str(s[1]).startswith("!")]
    metrics.update(victim=victim, samples=len(samples), errors=len(errors), interval_ms=INTERVAL_MS)

    during = [s for s in samples if unready_ms <= s[0] < ready_ms]
    assert_victim_excluded(during, victim, unready_ms, BOUND_S, metrics, "unready_convergence_s")
    back = [s[0] for s in samples if s[0] >= ready_ms and s[1] == victim]
    metrics["ready_convergence_s"] = round((back[0] - ready_ms) / 1000, 3) if back else None
    assert back, f"{victim} got no new connections within {(samples[-1][0] - ready_ms) / 1000:.1f}s of turning ready"
    assert (back[0] - ready_ms) / 1000 <= BOUND_S
    assert not errors, f"requests failed while a backend changed readiness: {errors[:5]}"
