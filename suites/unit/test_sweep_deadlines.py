"""The Services sweep's waits grow with the proxy's measured programming time (proxylab/perf/deadlines.py)."""

from __future__ import annotations

import math

import pytest

from proxylab.perf import deadlines


def test_settle_bound_keeps_the_old_fixed_bound_at_small_k_and_grows_beyond() -> None:
    assert deadlines.settle_deadline_s(1000) == 600
    assert deadlines.settle_deadline_s(30_000) == 600
    assert deadlines.settle_deadline_s(50_000) == 1000


def test_change_bound_is_two_rounds_plus_slack_never_below_the_minimum() -> None:
    assert deadlines.change_deadline_s(0.4) == deadlines.CHANGE_MIN_S
    # 30,000 Services under iptables on 2 cores: a round of minutes
    assert deadlines.change_deadline_s(400.2) == math.ceil(2 * 400.2 + deadlines.CHANGE_SLACK_S)
    assert deadlines.change_deadline_s(400.0) > 2 * 400.0


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_change_bound_refuses_a_meaningless_settle_time(bad: float) -> None:
    with pytest.raises(ValueError, match="settle time"):
        deadlines.change_deadline_s(bad)
