from __future__ import annotations

from typing import Any

from proxylab.perf.summary import summarize
from reports import metrics
from reports.performance import section

from .report_fixtures import doc, rec, run

LOAD = "suites/performance/test_load.py::test_cluster_ip_load"


def test_conformance_only_runs_have_no_performance_section() -> None:
    sec = section([run(doc("iptables", tests=[rec("suites/conformance/test_smoke.py::t", connect_ms=0.4)]))])
    assert sec.empty


def test_scalars_percentiles_timelines_and_curves_become_rows_and_charts() -> None:
    perf: dict[str, Any] = {"rps": 1000.0, "p50_ms": 1.0, "p99_ms": 5.0, "ratio_to_baseline": 0.9,
            "failover_timeline": [[0, 1.0], [1.5, 0.5], [3, 1.0]],
            "programming_latency": {"100": 0.4, "1000": 2.5}}
    runs = [run(doc("iptables", tests=[rec(LOAD, **perf)])),
            run(doc("nftables", tests=[rec(LOAD, **(perf | {"rps": 1200.0}))]))]
    sec = section(runs)
    rps = next(r for r in sec.rows if r.metric == "rps")
    assert rps.values == {"iptables": 1000.0, "nftables": 1200.0} and rps.better == "higher"
    by_id = {c["id"]: c for c in sec.charts}
    assert set(by_id) == {"pct-test_load__test_cluster_ip_load",
                          "curve-test_load__test_cluster_ip_load-programming_latency",
                          "timeline-test_load__test_cluster_ip_load-failover_timeline",
                          "scalar-rps", "scalar-ratio_to_baseline"}
    pct = by_id["pct-test_load__test_cluster_ip_load"]
    assert pct["labels"] == ["p50", "p99"] and pct["datasets"][0]["data"] == [1.0, 5.0]
    curve = by_id["curve-test_load__test_cluster_ip_load-programming_latency"]["datasets"][0]["data"]
    assert curve == [{"x": 100.0, "y": 0.4}, {"x": 1000.0, "y": 2.5}]


def test_malformed_timelines_and_curves_are_not_charted() -> None:
    assert metrics.timeline_points([[0, 1], "x"]) is None
    assert metrics.timeline_points([{"t": 0, "ok_ratio": 1}]) == [(0.0, 1.0)]
    assert metrics.curve_points({"pods": 1}) is None
    assert metrics.curve_points([[10, 1], [1, 2]]) == [(1.0, 2.0), (10.0, 1.0)]
    assert not metrics.is_performance({"counts": {"a": 1}, "requests": 300})


def test_curves_carry_their_95_interval_and_name_unreliable_points() -> None:
    stats = {"100": summarize([0.40, 0.42, 0.38]).as_metrics(), "1000": summarize([1.5, 2.5, 3.5]).as_metrics()}
    runs = [run(doc("iptables", tests=[rec(LOAD, programming_latency={"100": 0.4, "1000": 2.5},
                                           programming_latency_stats=stats)])),
            run(doc("nftables", tests=[rec(LOAD, programming_latency={"100": 0.5, "1000": None})]))]
    [chart] = section(runs).charts
    ipt, nft = chart["datasets"]
    assert [p["x"] for p in ipt["interval"]] == [100.0, 1000.0]
    assert ipt["interval"][0]["lo"] < 0.4 < ipt["interval"][0]["hi"]
    assert "interval" not in nft and nft["data"] == [{"x": 100.0, "y": 0.5}], "a null point is left out, not the curve"
    assert chart["note"] == "shaded: 95% interval of the repeats; unreliable: iptables at K = 1,000 (CV 40%)"


def test_scalar_rows_carry_intervals_and_unreliable_marks_and_invalid_runs_are_listed() -> None:
    runs = [run(doc("iptables", tests=[rec(LOAD, rps=1000.0, rps_stats=summarize([990.0, 1000.0, 1010.0]).as_metrics(),
                                           invalid_runs=["repeat 2: generator bound"])])),
            run(doc("nftables", tests=[rec(LOAD, rps=1000.0, rps_stats=summarize([600.0, 1000.0, 1400.0]).as_metrics())]))]
    sec = section(runs)
    [rps] = sec.rows
    assert set(rps.intervals) == {"iptables", "nftables"} and rps.unreliable == {"nftables": "unreliable (CV 40%)"}
    assert [(x.mode, x.test, x.runs) for x in sec.invalid] == [
        ("iptables", "test_load::test_cluster_ip_load", ("repeat 2: generator bound",))]
    assert not any(c["id"].endswith("invalid_runs") for c in sec.charts), "never a figure"
    assert metrics.invalid_runs({"invalid_runs": "x"}) == []
