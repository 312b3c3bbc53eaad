"""reports/significance.py on synthetic samples (made-up numbers, not measurements)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from proxylab.perf.summary import summarize
from reports import significance as sig
from reports.significance import Sample, change, rank, sample, welch_p

FAST = [1010.0, 1002.0, 995.0, 1008.0, 1001.0]
SLOW = [801.0, 812.0, 795.0, 806.0, 799.0]


def s(values: list[float], **extra: Any) -> Sample:
    """A Sample as the report reads it from a suite's ``<metric>_stats`` (Summary.as_metrics())."""
    got = sample(summarize(values).as_metrics() | extra)
    assert got is not None
    return got


def test_clearly_different_samples_differ_in_the_better_direction() -> None:
    p, method = welch_p(FAST, SLOW)
    assert p < 1e-6 and method == "welch"
    higher = rank({"iptables": s(SLOW), "ebpf": s(FAST)}, "higher")
    assert higher.status == "best" and higher.best == {"ebpf"}
    assert higher.text().startswith("ebpf better (higher): 1.25\u00d7 iptables (Welch p < 0.001)")
    lower = rank({"iptables": s(SLOW), "ebpf": s(FAST)}, "lower")
    assert lower.best == {"iptables"} and "0.80\u00d7 ebpf" in lower.text()


def test_overlapping_noisy_samples_show_no_measurable_difference() -> None:
    a, b = [0.81, 0.92, 0.86], [0.84, 0.95, 0.83]
    r = rank({"iptables": s(a), "nftables": s(b)}, "higher")
    assert r.status == "same" and not r.best and not r.significant
    assert r.text().startswith("no measurable difference (Welch p = 0.")
    assert r.comparisons[0].p > 0.5


def test_fewer_than_two_values_or_one_mode_is_not_testable() -> None:
    with pytest.raises(ValueError, match="at least 2 values"):
        welch_p([1.0], [2.0, 3.0])
    r = rank({"iptables": s([1.0]), "nftables": s(FAST)}, "higher")
    assert r.status == "untestable" and r.text() == "not testable: iptables n < 2 (n = 1)"
    no_stats = rank({"iptables": None, "nftables": None}, "lower")
    assert no_stats.status == "untestable" and "n < 2 (no repeat values)" in no_stats.text()
    alone = rank({"iptables": s(FAST)}, "higher")
    assert alone.status == "untestable" and alone.text() == "not testable: iptables is the only mode that measured it"


def test_identical_constant_samples_are_no_difference_without_warnings_or_nan() -> None:
    p, method = welch_p([3.0, 3.0, 3.0], [3.0, 3.0])
    assert (p, method) == (1.0, "constant")
    assert rank({"a": s([0.0, 0.0, 0.0]), "b": s([0.0, 0.0, 0.0])}, "lower").status == "same"


def test_different_constants_get_the_exact_permutation_p_not_certainty() -> None:
    p2, method = welch_p([0.05, 0.05], [0.10, 0.10])
    assert method == "permutation" and p2 == pytest.approx(2 / 6), "2 vs 2 repeats cannot be significant"
    assert rank({"a": s([0.05, 0.05]), "b": s([0.1, 0.1])}, "lower").status == "same"
    p5, _ = welch_p([0.0] * 5, [1.0] * 5)
    assert p5 == pytest.approx(2 / 252)
    assert rank({"a": s([0.0] * 5), "b": s([1.0] * 5)}, "lower").best == {"a"}


def test_one_constant_sample_is_still_welch_and_finite() -> None:
    p, method = welch_p([0.0, 0.0, 0.0], [2.0, 3.0, 2.5, 2.8])
    assert method == "welch" and 0.0 < p < 0.01
    p_close, _ = welch_p([1.0, 1.0, 1.0], [0.9, 1.1, 1.0])
    assert p_close == pytest.approx(1.0)


@pytest.mark.parametrize(("xs", "ys"), [
    ([1.0, 1.0], [1.0, 1.0]), ([1.0, 1.0], [2.0, 2.0]), ([0.0, 0.0], [0.0, 1.0]), ([1e6, 1e6 + 1e-4], [1e6, 1e6]),
    ([1000.0, 1000.0001, 1000.0], [999.0, 1001.0, 1000.0]), ([-1.0, 1.0], [-1.0, 1.0]),
])
def test_no_edge_case_gives_a_nan_p(xs: list[float], ys: list[float]) -> None:
    p, _ = welch_p(xs, ys)
    assert math.isfinite(p) and 0.0 <= p <= 1.0


def test_a_cv_above_the_bound_or_the_suites_flag_makes_a_figure_unreliable_and_unranked() -> None:
    assert sig.CV_BOUND == 0.10
    noisy = s([600.0, 1000.0, 1400.0])
    assert noisy.unreliable == "unreliable (CV 40%)"
    assert s(FAST).unreliable == ""
    flagged = s(FAST, reliable=False, cv_bound=0.005)
    assert flagged.unreliable == "unreliable (CV 0.6% above the suite's bound 0.5%, flagged by the suite)"
    quiet_flag = sample({"values": [1.0, 2.0], "reliable": False, "cv": None})
    assert quiet_flag is not None and quiet_flag.unreliable == "unreliable (CV 47%, flagged by the suite)"
    assert s([600.0, 1000.0, 1400.0], reliable=True).unreliable, "the report's bound still applies"
    r = rank({"iptables": s(SLOW), "nftables": noisy, "ebpf": s(FAST)}, "higher")
    assert r.best == {"ebpf"} and {c.a for c in r.comparisons} | {c.b for c in r.comparisons} == {"iptables", "ebpf"}
    assert r.excluded == {"nftables": "unreliable (CV 40%)"} and "left out: nftables unreliable (CV 40%)" in r.text()
    only_one_left = rank({"iptables": s(SLOW), "nftables": noisy}, "higher")
    assert only_one_left.status == "untestable" and only_one_left.text() == "not testable: nftables unreliable (CV 40%)"


def test_with_more_modes_best_needs_a_win_against_every_other() -> None:
    mid = [900.0, 905.0, 898.0, 903.0, 899.0]
    best = rank({"iptables": s(SLOW), "nftables": s(mid), "ebpf": s(FAST)}, "higher")
    assert best.status == "best" and best.best == {"ebpf"}
    assert best.text().startswith("ebpf best, better (higher) than every other mode: 1.25\u00d7 iptables")
    twin = [1003.0, 1011.0, 997.0, 1004.0, 999.0]  # indistinguishable from FAST
    partial = rank({"iptables": s(SLOW), "nftables": s(twin), "ebpf": s(FAST)}, "higher")
    assert partial.status == "partial" and partial.best == frozenset()
    text = partial.text()
    assert text.startswith("no single best mode: ") and "nftables better (higher) than iptables" in text
    assert "ebpf better (higher) than iptables" in text and text.endswith("1 other pair within noise")


def test_stats_are_read_leniently_and_scaled() -> None:
    got = sample({"n": 3, "values": [0.001, None, 0.003, float("nan")], "ci95": None})
    assert got is not None and got.values == (0.001, 0.003) and got.mean == pytest.approx(0.002)
    assert got.ci95 is None and got.cv == pytest.approx(0.7071, abs=1e-4), "CV computed when the suite gave none"
    ms = s([0.001, 0.002, 0.003]).scaled(1000.0)
    assert ms.values == pytest.approx((1.0, 2.0, 3.0)) and ms.ci95 is not None and ms.ci95[1] > 3.0
    assert sample("not a dict") is None and sample(None) is None


def test_change_along_k_compares_the_repeats_at_two_ks() -> None:
    c = change(1000.0, s(FAST), 10000.0, s([620.0, 618.0, 630.0, 611.0, 625.0]))
    assert c is not None and c.significant and c.ratio == pytest.approx(0.62, abs=0.01)
    flat = change(1000.0, s(FAST), 10000.0, s([1003.0, 1011.0, 997.0, 1004.0, 999.0]))
    assert flat is not None and not flat.significant
    assert change(1000.0, s([1.0]), 10000.0, s(FAST)) is None, "n < 2 is not testable"
    assert change(1000.0, s(FAST), 10000.0, s([600.0, 1000.0, 1400.0])) is None, "an unreliable point is left out"


def test_p_values_are_printed_with_enough_digits_near_alpha() -> None:
    assert sig.fmt_p(0.0496) == "p = 0.0496"
    assert sig.fmt_p(0.0004) == "p < 0.001"
    assert sig.fmt_p(0.4163) == "p = 0.42"
