"""The one convergence analysis (proxylab.convergence), as the conformance checks and the
performance suite's failover figures use it."""

from __future__ import annotations

from typing import Any

import pytest

from proxylab.convergence import Sample, converged_at, first_at, parse_series
from proxylab.perf import failover
from suites.conformance.checks import assert_victim_excluded

SAMPLES = parse_series([[0, "v"], [100, "a"], [200, "v"], [300, "a"], [400, "b"], [500, "a"]])


def test_parse_series_reads_echo_json() -> None:
    s = parse_series([[1796045406351, "pod-a"], [1796045406451, "!timeout"]])
    assert s == [Sample(1796045406351.0, "pod-a"), Sample(1796045406451.0, "!timeout")]
    assert not s[0].failed and s[0].kind is None and s[1].failed and s[1].kind == "timeout"


def test_converged_at_finds_the_last_violation() -> None:
    not_v = lambda w: w != "v"  # noqa: E731
    assert converged_at(SAMPLES, 50, not_v) == 250  # first sample after the last "v" (t=200)
    assert converged_at(SAMPLES, 250, not_v) == 0.0
    assert converged_at(parse_series([(0, "a"), (100, "v")]), 0, not_v) is None
    assert converged_at(SAMPLES, 900, lambda w: True) is None  # nothing observed


def test_converged_at_ignores_order_and_the_end_of_the_window() -> None:
    not_v = lambda w: w != "v"  # noqa: E731
    assert converged_at(list(reversed(SAMPLES)), 50, not_v) == 250
    # the victim is back at 200, after the window's end: within [50, 150) it converged at once
    assert converged_at(SAMPLES, 50, not_v, end_ms=150) == 0.0
    assert converged_at(SAMPLES, 0, not_v, end_ms=150) == 100


def test_first_at() -> None:
    assert first_at(SAMPLES, 250, lambda w: w == "b") == 150
    assert first_at(SAMPLES, 450, lambda w: w == "v") is None


def test_conformance_and_failover_agree() -> None:
    """The same series, fault and victim give the same convergence time in both suites."""
    series = parse_series([(900, "v"), (1000, "a"), (1050, "v"), (1100, "!reset"), (1150, "a"), (1200, "b"),
                           (1250, "a")])
    metrics: dict[str, Any] = {}
    conformance_s = assert_victim_excluded(series, "v", 1000, 5.0, metrics, "convergence_s")
    f = failover.analyse(series, 1000, "v", ["a", "b", "v"])
    assert conformance_s == pytest.approx(0.1) and metrics["convergence_s"] == f.victim_gone_s == 0.1


def test_assert_victim_excluded_fails_when_the_victim_stays() -> None:
    with pytest.raises(AssertionError, match="still received"):
        assert_victim_excluded(parse_series([(1000, "a"), (1100, "v")]), "v", 1000, 5.0, {}, "k")
    with pytest.raises(AssertionError, match=r"bound 0\.05s"):
        assert_victim_excluded(SAMPLES, "v", 50, 0.05, {}, "k")
