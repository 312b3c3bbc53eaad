"""UDP after a backend is replaced: a long-lived flow (one client socket, one source port, a
datagram every 50 ms) to a one-backend UDP Service whose backend pod is deleted and replaced by
its Deployment.

A proxy that NATs UDP through conntrack keeps sending the flow to the old pod's address as long
as the entry lives, and a flow that never pauses keeps refreshing it, so it can stay stuck on a
backend that no longer exists (kube-proxy deletes the conntrack entries of a removed UDP endpoint
to prevent exactly that). The test measures, from the deletion and from the moment the new
backend's endpoint became Ready in the EndpointSlice, when the flow's answers come from the new
backend, how many datagrams went unanswered, and whether the old pod still answered.

Bound: the flow must be answered by the new backend (the old pod never answering again) at most
10 s after the new backend became Ready; a flow still unanswered or on the old pod later fails.
Switch-over time is given from the deletion (``switchover_s``) and from Ready
(``switchover_after_ready_s``); ``lost_datagrams`` are those unanswered until the switch-over
(a datagram counts as lost when no answer comes within its 50 ms interval).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from proxylab.constants import ECHO_UDP_PORT
from proxylab.convergence import parse_series
from proxylab.wait import wait_for
from suites.conformance.checks import now_ms
from suites.namespaces import Namespace, in_background

from .analysis import runs, udp_switchover
from .endpoints import slice_endpoints

pytestmark = pytest.mark.e2e

BOUND_AFTER_READY_S = 10.0
INTERVAL_MS = 50
SERIES_MS = 30_000
LEAD_IN_S = 3.0  # the flow runs (and its conntrack entry exists) this long before the deletion


def _new_ready_endpoint(ns: Namespace, service: str, old: str) -> tuple[bool, str]:
    eps = slice_endpoints(ns, service)
    return any(e["ready"] and e["pod"] != old for e in eps), f"endpoints {eps}"


def test_udp_flow_moves_to_the_replacement_backend(namespace: Namespace, metrics: dict[str, Any]) -> None:
    fx = namespace.fixture("stale", {"replicas": 1, "ports": [{"name": "dns", "port": 53, "protocol": "UDP",
                                                              "targetPort": ECHO_UDP_PORT}]})
    st = fx.status()
    old = st["endpoints"][0]["pod"]
    addr = f"{st['service']['clusterIP']}:53"
    client_pod = namespace.probe_pod("client", namespace.workers[0])
    wait_for(lambda: ((a := namespace.probe(client_pod, "udp", addr, "3"))["counts"] == {old: 3}, f"answer {a}"),
             timeout=60, what=f"{addr} answering UDP from {old}", interval=0.5)

    flow = in_background(lambda: namespace.probe(client_pod, "udpseries", addr, str(SERIES_MS), str(INTERVAL_MS),
                                                 timeout=SERIES_MS / 1000 + 60))
    time.sleep(LEAD_IN_S)
    deleted_ms = now_ms()
    client.CoreV1Api(namespace.api).delete_namespaced_pod(old, namespace.name, grace_period_seconds=0)
    ready_s = wait_for(lambda: _new_ready_endpoint(namespace, fx.name, old), timeout=60, interval=0.1,
                       what="the replacement backend Ready in the EndpointSlice")
    ready_ms = now_ms() - deleted_ms  # the poll's end: at most 0.1 s (plus one API call) late
    result = flow.result(SERIES_MS / 1000 + 90)
    samples = parse_series(result["samples"])
    before = [s for s in samples if s.t_ms < deleted_ms]
    sw = udp_switchover(samples, deleted_ms, old)
    after_ready = sw.switched_after_ready_ms(ready_ms)
    metrics.update(
        old_pod=old, local_port=result["local_port"], datagrams_sent=sw.sent, late_answers=result["late"],
        new_ready_s=round(ready_ms / 1000, 3), ready_poll_s=round(ready_s, 3),
        switchover_s=None if sw.switched_ms is None else round(sw.switched_ms / 1000, 3),
        switchover_after_ready_s=None if after_ready is None else round(after_ready / 1000, 3),
        first_new_answer_s=None if sw.first_new_ms is None else round(sw.first_new_ms / 1000, 3),
        lost_datagrams=sw.lost_before_switch, lost_after_switch=sw.lost_after_switch,
        old_pod_answers_after_delete=sw.old_answers,
        observed_after_delete_s=None if sw.last_sample_ms is None else round(sw.last_sample_ms / 1000, 3),
        timeline_after_delete=runs(samples, deleted_ms, {old: "old"}),
    )
    assert before and all(s.who == old for s in before[-5:]), \
        f"the flow was not established on {old} before the deletion (last answers {before[-5:]})"
    if sw.switched_ms is None:
        assert sw.last_sample_ms is not None and sw.last_sample_ms >= ready_ms + BOUND_AFTER_READY_S * 1000, (
            f"the new backend became Ready {ready_ms / 1000:.1f}s after the deletion, too late to observe the "
            f"flow for {BOUND_AFTER_READY_S}s after it (series ends {sw.last_sample_ms}ms after the deletion)")
    assert after_ready is not None and after_ready <= BOUND_AFTER_READY_S * 1000, (
        f"the UDP flow (one source port) was still unanswered or answered by the deleted pod {old} more than "
        f"{BOUND_AFTER_READY_S}s after the new backend became Ready (bound {BOUND_AFTER_READY_S}s): switched "
        f"{metrics['switchover_after_ready_s']}s after Ready, {sw.lost_before_switch} datagrams lost, {sw.old_answers} "
        "answers from the old pod after the deletion")
