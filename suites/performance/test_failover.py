"""Scenario 4: failover under a steady rate of new connections to 5 backends.

An echo probe (``echo series``) on the client node opens a new connection every ``--perf-failover-interval`` ms
(so every request is balanced by the proxy's current rules) to the ClusterIP while the operator
kills one backend (no grace), turns one unready, or drains one gracefully (it turns unready and
keeps serving ``drainSeconds``). From the per-request samples (epoch ms, answering pod or error)
:mod:`proxylab.perf.failover` derives errors, time to the last error, time until the victim gets
no traffic, and time until a replacement pod gets traffic. Times count from the moment the fault
was requested from the operator, so they include the operator's reaction.

Asserted: the victim stops getting traffic within the window; every sample is an answer or a
classified error; and no request fails when the victim stays able to answer (unready, drain).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from operators.fixture.client import Fixture
from proxylab.convergence import parse_series
from proxylab.perf import failover, summary
from proxylab.perf.profile import PerfConfig
from proxylab.results import MetricId, records
from suites.namespaces import Namespace, UntilPoll, in_background

from .conftest import client_node

pytestmark = pytest.mark.e2e

BACKENDS = 5
DRAIN_SECONDS = 4
LEAD_S = 2.0  # observed before the fault
TIMEOUT_MS = 300  # per request; an unanswered SYN shows up as an error this fast
ACTIONS = ("kill", "unready", "drain")
ERROR_FREE = ("unready", "drain")  # the victim can still answer: a failed request is a proxy fault

# Stable ids of the figures the report's headline compares (reports/headline.py), recorded in results.json.
KILL_VICTIM_GONE = MetricId("failover.kill.victim_gone_s", "victim_gone_s", param="kill")
KILL_ERRORS = MetricId("failover.kill.errors", "errors", param="kill")
UNREADY_VICTIM_GONE = MetricId("failover.unready.victim_gone_s", "victim_gone_s", param="unready")
DRAIN_ERRORS = MetricId("failover.drain.errors", "errors", param="drain")

@dataclass
class Pool:
    ns: Namespace
    fx: Fixture
    cluster_ip: str
    client: str


@pytest.fixture(scope="module")
def pool(namespace: Namespace) -> Pool:
    fx = namespace.fixture("failover", {"replicas": BACKENDS, "drainSeconds": DRAIN_SECONDS})
    ip = fx.status()["service"]["clusterIP"]
    client = namespace.probe_pod("fo-client", client_node(namespace))
    return Pool(namespace, fx, ip, client)


def _one(p: Pool, perf: PerfConfig, action: str, repeat: int) -> tuple[failover.Failover, str, dict[str, Any]]:
    st = p.fx.wait_ready()
    pods = sorted(e["pod"] for e in st["endpoints"] if e["ready"])
    hit = p.ns.until(p.client, f"{p.cluster_ip}:80", "ok", UntilPoll(30, 200, 20))
    assert hit["hit"], f"{p.cluster_ip}:80 does not answer from {p.client}: {hit}"
    duration = LEAD_S + perf.failover_window_s
    bg = in_background(lambda: p.ns.probe(p.client, "series", f"http://{p.cluster_ip}:80/", str(round(duration * 1000)),
                                          str(perf.failover_interval_ms), str(TIMEOUT_MS), timeout=duration + 60))
    time.sleep(LEAD_S + 1.0)  # the exec takes a moment to start; the probe reports when it did
    fault_at = time.time()
    fid = f"{action}-{repeat}-{int(fault_at)}"
    # count=1, not pods=[...]: the operator validates named pods against the live ones on every
    # change, so a fault naming a pod that was killed since would invalidate the whole spec.
    p.fx.add_fault(fid, action, count=1)
    record = p.fx.wait_fault(fid)
    victim = str(record["pods"][0])
    readmitted = None
    if action == "unready":
        time.sleep(max(0.0, fault_at + perf.failover_window_s / 2 - time.time()))
        readmitted = time.time()
        p.fx.add_fault(f"ready-{fid}", "ready", count=1)
        p.fx.wait_fault(f"ready-{fid}")
    res = bg.result(duration + 90)
    started = res["started"] / 1000  # epoch ms, like the samples
    assert started < fault_at, "the probe started after the fault: nothing was observed before it"
    samples = parse_series(res["samples"])
    f = failover.analyse(samples, fault_at * 1000, victim, pods, None if readmitted is None else readmitted * 1000)
    return f, victim, {"operator_record": record, "probe_started": started, "fault_at": fault_at}


@records(KILL_VICTIM_GONE, KILL_ERRORS, UNREADY_VICTIM_GONE, DRAIN_ERRORS)
@pytest.mark.parametrize("action", ACTIONS)
def test_failover(pool: Pool, perf: PerfConfig, metrics: dict[str, Any], action: str) -> None:
    runs = [_one(pool, perf, action, r) for r in range(perf.repeats)]
    figures = ("failover_seconds", "errors", "last_error_s", "victim_gone_s", "replacement_s", "victim_back_s")
    for key in figures:
        values = [f.as_metrics()[key] for f, _, _ in runs]
        s = summary.summarize(values)
        metrics[f"{key}_stats"] = s.as_metrics()
        metrics[key] = None if s.mean is None else round(s.mean, 3)
    first = runs[0][0]
    metrics.update(
        action=action, perf=summary_perf(perf), errors_total=sum(f.errors for f, _, _ in runs),
        error_timeline=first.error_timeline, victim_share_timeline=first.victim_share_timeline,
        repeats=[{"victim": v, **f.as_metrics(), **extra} for f, v, extra in runs],
        method="probe: one GET per new connection every interval; times from the fault request to the operator; "
               "victim gone = first moment after which no sample reached it")
    for f, victim, _ in runs:
        assert f.samples > 0 and sum(f.backend_counts.values()) + f.errors == f.samples
        assert f.victim_gone_s is not None, f"{victim} still got traffic at the end of the window ({action})"
        if action in ERROR_FREE:
            assert f.errors == 0, f"{action}: requests failed although {victim} could answer: {f.errors_by_kind}"
        if action == "unready":
            assert f.victim_back_s is not None, f"{victim} got no traffic after turning ready again"


def summary_perf(perf: PerfConfig) -> dict[str, Any]:
    return {"repeats": perf.repeats, "window_s": perf.failover_window_s, "interval_ms": perf.failover_interval_ms,
            "timeout_ms": TIMEOUT_MS, "lead_s": LEAD_S, "drain_seconds": DRAIN_SECONDS}
