"""Fallback to terminating endpoints (KEP-1669, ProxyTerminatingEndpoints): when EVERY endpoint of a
Service is terminating but still serving, the proxy keeps sending traffic to them rather than
refusing it (as it would with no endpoints at all). Checked for internalTrafficPolicy Cluster and
Local (the client on the node with the backends).

How every endpoint ends up terminating: the fixture is scaled to 0, so all its backends are
deleted gracefully at once and none replaces them (a ``drain`` fault on every pod would make the
Deployment start replacements, which become ready within seconds and end the situation this test
is about). Each backend drains for ``drainSeconds`` (it keeps serving).

"Still serving" needs the backend to keep passing its readiness probe: the echo backend fails
/ready as soon as it drains, so the fixture's probe tolerates 10 failures 5 s apart (50 s, longer
than the drain): the pods stay Ready, the EndpointSlice marks them serving=true, ready=false,
terminating=true, and that is what the proxy must fall back to.

Bound: of the requests sent from the scale-down to the end of the observation (20 s, a new TCP
connection every 50 ms), at most 2 % may fail (timeouts of a starved 2-core host), none may be
refused, every answer must come from a terminating pod, and traffic must still flow at the end.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from proxylab.wait import wait_for
from suites.conformance.checks import Series, now_ms
from suites.namespaces import Namespace

from .analysis import fallback_window, runs
from .endpoints import slice_endpoints

pytestmark = pytest.mark.e2e

REPLICAS = 2
DRAIN_S = 30
READINESS = {"periodSeconds": 5, "failureThreshold": 10}  # Ready survives 50 s of failing probes > DRAIN_S
LEAD_IN_S = 2.0
OBSERVE_MS = 20_000  # after the scale-down; well inside the drain
FAILED_FRACTION_BOUND = 0.02
STILL_FLOWING_MS = 1_000  # the last answer in the window is at most this far from its end


def _all_terminating(ns: Namespace, service: str, pods: set[str]) -> tuple[bool, str]:
    eps = [e for e in slice_endpoints(ns, service) if e["pod"] in pods]
    return len(eps) == len(pods) and all(e["terminating"] for e in eps), f"endpoints {eps}"


@pytest.mark.parametrize("policy", ["Cluster", "Local"])
def test_traffic_falls_back_to_terminating_endpoints(namespace: Namespace, metrics: dict[str, Any],
                                                     policy: str) -> None:
    node = namespace.workers[0]
    placement: dict[str, Any] = {"nodes": [node], "spread": False} if policy == "Local" else {}
    fx = namespace.fixture(f"fallback-{policy.lower()}", {
        "replicas": REPLICAS, "drainSeconds": DRAIN_S, "internalTrafficPolicy": policy, "readiness": READINESS,
        **({"placement": placement} if placement else {})})
    st = fx.status()
    pods = {e["pod"] for e in st["endpoints"]}
    url = f"http://{st['service']['clusterIP']}/"
    client = namespace.probe_pod("client", node)
    namespace.wait_serving(client, url, pods)

    series = Series(namespace, client, url, int(LEAD_IN_S * 1000) + OBSERVE_MS)
    time.sleep(LEAD_IN_S)
    scaled_ms = now_ms()
    fx.patch_spec({"replicas": 0})
    marked_s = wait_for(lambda: _all_terminating(namespace, fx.name, pods), timeout=15, interval=0.1,
                        what=f"every endpoint of {fx.name} terminating")
    eps = [e for e in slice_endpoints(namespace, fx.name) if e["pod"] in pods]
    samples = series.samples(OBSERVE_MS / 1000 + 60, before_ms=scaled_ms)
    eps_end = [e for e in slice_endpoints(namespace, fx.name) if e["pod"] in pods]
    end_ms = max(s.t_ms for s in samples) + 1
    fb = fallback_window(samples, scaled_ms, end_ms, pods)
    metrics.update(
        policy=policy, backends=sorted(pods), endpoints_while_draining=eps, endpoints_at_end=eps_end,
        terminating_marked_s=round(marked_s, 3), requests=fb.sent, failed_requests=fb.failed,
        failures=fb.failures, answered_fraction=round(fb.answered_fraction, 4),
        answered_by_terminating=fb.by_terminating, answered_by_others=fb.by_others,
        traffic_flowed_s=None if fb.served_for_ms is None else round(fb.served_for_ms / 1000, 3),
        observed_s=round((end_ms - scaled_ms) / 1000, 3),
        timeline_after_scale_down=runs(samples, scaled_ms),
    )
    for when, snapshot in (("once marked", eps), ("at the end of the observation", eps_end)):
        assert len(snapshot) == REPLICAS and all(e["terminating"] and e["serving"] and not e["ready"]
                                                 for e in snapshot), \
            f"the draining endpoints are not all terminating, serving and not ready {when}: {snapshot}"
    assert fb.sent > 0 and "refused" not in fb.failures and fb.failed <= FAILED_FRACTION_BOUND * fb.sent, (
        f"with every endpoint terminating but serving, {fb.failed} of {fb.sent} requests failed {fb.failures} "
        f"(bound {FAILED_FRACTION_BOUND:.0%}, none refused): no fallback to terminating endpoints")
    assert fb.by_others == 0 and fb.by_terminating > 0, \
        f"answers came from pods other than the terminating ones {sorted(pods)}: {fb.by_others}"
    assert fb.served_for_ms is not None and end_ms - (scaled_ms + fb.served_for_ms) <= STILL_FLOWING_MS, (
        f"traffic stopped {metrics['traffic_flowed_s']}s after the scale-down, "
        f"{(end_ms - scaled_ms) / 1000:.1f}s were observed (the drain lasts {DRAIN_S}s)")
