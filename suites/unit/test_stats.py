from __future__ import annotations

import pytest

from proxylab.stats import fairness, jain_index


def test_even_counts_are_fair() -> None:
    f = fairness({"a": 600, "b": 610, "c": 590, "d": 605, "e": 595}, ["a", "b", "c", "d", "e"])
    assert f.fair and f.p_value > 0.5 and f.jain_index > 0.999 and f.n == 3000


def test_a_skewed_backend_fails_both_ways() -> None:
    f = fairness({"a": 1000, "b": 500, "c": 500, "d": 500, "e": 500}, ["a", "b", "c", "d", "e"])
    assert not f.fair and f.p_value < 1e-9 and f.max_relative_deviation == pytest.approx(2 / 3)


def test_a_backend_that_got_nothing_counts_as_zero() -> None:
    f = fairness({"a": 750, "b": 750, "c": 750, "d": 750}, ["a", "b", "c", "d", "e"])
    assert not f.fair and f.counts["e"] == 0 and f.max_relative_deviation == pytest.approx(1.0)


def test_effect_size_bound_applies_even_when_chi_square_does_not_reject() -> None:
    f = fairness({"a": 13, "b": 7}, ["a", "b"])  # few requests: chi-square cannot reject, skew is 30 %
    assert f.p_value > 0.001 and not f.fair


def test_answers_from_strangers_are_an_error() -> None:
    with pytest.raises(ValueError, match="not backends"):
        fairness({"a": 1, "x": 1}, ["a"])


def test_jain_index_bounds() -> None:
    assert jain_index([5, 5, 5]) == pytest.approx(1.0)
    assert jain_index([9, 0, 0]) == pytest.approx(1 / 3)
