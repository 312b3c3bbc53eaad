from __future__ import annotations

from reports.history import charts, regressions, run_order
from reports.load import ModeRun

from .report_fixtures import doc, rec, run

LOAD = "suites/performance/test_load.py::test_load"
SMOKE = "suites/conformance/test_smoke.py::test_refused"


def _runs(rps_now: float, p99_now: float, smoke_now: str = "passed", up_now: float = 30.0) -> list[ModeRun]:
    return [
        run(doc("iptables", "r1", "2026-01-01T00:00:00Z", tests=[rec(LOAD, rps=1000.0, p99_ms=10.0), rec(SMOKE)])),
        run(doc("iptables", "r2", "2026-01-02T00:00:00Z", up=up_now,
                tests=[rec(LOAD, rps=rps_now, p99_ms=p99_now), rec(SMOKE, smoke_now, "boom")])),
    ]


def test_runs_are_ordered_by_start_time_not_name() -> None:
    runs = [run(doc("iptables", "b", "2026-01-01T00:00:00Z")), run(doc("iptables", "a", "2026-01-03T00:00:00Z"))]
    assert run_order(runs) == ["b", "a"]


def test_changes_within_the_threshold_are_not_regressions() -> None:
    assert regressions(_runs(rps_now=950.0, p99_now=10.5), threshold=0.10) == []


def test_each_direction_and_a_new_failure_are_flagged() -> None:
    found = {(g.test, g.metric) for g in regressions(_runs(rps_now=800.0, p99_now=13.0, smoke_now="failed",
                                                           up_now=40.0), threshold=0.10)}
    assert found == {("test_load::test_load", "rps"), ("test_load::test_load", "p99_ms"),
                     ("test_smoke::test_refused", "verdict"), ("run", "cluster_up_seconds"),
                     ("run", "passed_tests")}


def test_improvements_and_sub_noise_jitter_are_not_flagged() -> None:
    assert regressions(_runs(rps_now=2000.0, p99_now=5.0), threshold=0.10) == []
    jitter = [run(doc("iptables", "r1", "2026-01-01T00:00:00Z", tests=[rec(SMOKE, connect_ms=0.4)])),
              run(doc("iptables", "r2", "2026-01-02T00:00:00Z", tests=[rec(SMOKE, connect_ms=0.8)]))]
    assert regressions(jitter) == [], "0.4 ms of jitter is below the 1 ms noise floor"


def test_trend_charts_have_one_line_per_mode_over_every_run() -> None:
    specs = {c["title"]: c for c in charts(_runs(1000.0, 10.0))}
    rps = specs["throughput (requests/s): test_load::test_load"]
    assert rps["labels"] == ["r1", "r2"]
    assert rps["datasets"] == [{"label": "iptables", "data": [1000.0, 1000.0]}]
    assert "passed tests" in specs


def _stats(*values: float) -> dict[str, object]:
    from proxylab.perf.summary import summarize
    return summarize(values).as_metrics()


def _repeat_runs(before: tuple[float, ...], now: tuple[float, ...]) -> list[ModeRun]:
    import statistics
    return [run(doc("iptables", rid, started, tests=[rec(LOAD, rps=statistics.fmean(vals), rps_stats=_stats(*vals))]))
            for rid, started, vals in (("r1", "2026-01-01T00:00:00Z", before), ("r2", "2026-01-02T00:00:00Z", now))]


def test_a_drop_within_the_repeats_noise_is_not_a_regression() -> None:
    # means 1000 -> 870 (-13 %, beyond the threshold) but within the repeats' noise: Welch p = 0.08
    assert [g for g in regressions(_repeat_runs((990.0, 1000.0, 1010.0), (800.0, 870.0, 940.0)))
            if g.metric == "rps"] == []


def test_a_significant_drop_is_a_regression_and_says_how_it_was_tested() -> None:
    [g] = [g for g in regressions(_repeat_runs((990.0, 1000.0, 1010.0), (860.0, 870.0, 880.0))) if g.metric == "rps"]
    assert g.change is not None and g.change < -0.1
    assert "Welch's t-test on the repeats p < 0.001 (n = 3 vs 3)" in g.describe()


def test_an_unreliable_figure_is_never_called_a_regression() -> None:
    # CV of the new run ~ 29 %, above the 10 % bound: the mean moving 30 % is not evidence
    assert [g for g in regressions(_repeat_runs((990.0, 1000.0, 1010.0), (500.0, 700.0, 900.0)))
            if g.metric == "rps"] == []


def test_a_single_value_regression_says_it_was_not_significance_tested() -> None:
    found = {g.metric: g for g in regressions(_runs(rps_now=800.0, p99_now=10.0, up_now=40.0))}
    assert "not significance-tested" in found["rps"].describe()
    assert "not significance-tested" in found["cluster_up_seconds"].describe()
