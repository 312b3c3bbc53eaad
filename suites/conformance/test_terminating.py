"""Terminating endpoints: during a graceful drain the backend's in-flight requests complete, and new
connections avoid it (it is terminating and no longer ready, though still serving)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from proxylab.constants import ECHO_HTTP_PORT
from proxylab.wait import wait_for
from suites.namespaces import Namespace

from .checks import Series, assert_victim_excluded, now_ms

pytestmark = pytest.mark.e2e

DRAIN_S = 8
SLOW_MS = 2500


def test_drain_completes_in_flight_requests_and_diverts_new_ones(namespace: Namespace, metrics: dict[str, Any]) -> None:
    fx = namespace.fixture("drain", {"replicas": 3, "drainSeconds": DRAIN_S})
    st = fx.status()
    victim = sorted(e["pod"] for e in st["endpoints"])[0]
    victim_ip = next(e["ip"] for e in st["endpoints"] if e["pod"] == victim)
    url = f"http://{st['service']['clusterIP']}/"
    client = namespace.probe_pod("client", namespace.workers[0])
    namespace.wait_serving(client, url, {e["pod"] for e in st["endpoints"]})

    in_flight: list[dict[str, Any]] = []

    def slow_request() -> None:
        in_flight.append(namespace.probe(client, "get", f"http://{victim_ip}:{ECHO_HTTP_PORT}/?delay_ms={SLOW_MS}", "1"))

    series = Series(namespace, client, url, 12_000)
    time.sleep(2)
    slow = [threading.Thread(target=slow_request) for _ in range(3)]
    for t in slow:
        t.start()
    time.sleep(0.5)  # the slow requests are now in flight on the victim
    drain_ms = now_ms()
    fx.add_fault("drain-victim", "drain", pods=[victim])
    fx.wait_fault("drain-victim")
    def victim_endpoint() -> dict[str, Any]:
        return next((x for x in fx.status().get("endpoints", []) if x.get("pod") == victim), {})

    ep = wait_for(lambda: (bool((e := victim_endpoint()).get("terminating")), f"victim endpoint {e}"),
                  timeout=10, what="victim endpoint marked terminating")
    victim_ep = victim_endpoint()
    for t in slow:
        t.join(timeout=30)
    samples = series.samples(60, before_ms=drain_ms)
    errors = [s for s in samples if str(s[1]).startswith("!")]
    metrics.update(victim=victim, in_flight=in_flight, victim_endpoint=victim_ep, errors=len(errors),
                   terminating_seen_s=round(ep, 3))
    assert len(in_flight) == 3 and all(r["counts"] == {victim: 1} and not r["errors"] for r in in_flight), \
        f"in-flight requests to the draining backend did not complete: {in_flight}"
    assert victim_ep.get("terminating") is True and victim_ep.get("ready") is False, victim_ep
    assert_victim_excluded([s for s in samples if s[0] >= drain_ms], victim, drain_ms, 5.0, metrics,
                           "diverted_after_s")
    assert not errors, f"requests failed during the drain: {errors[:5]}"
