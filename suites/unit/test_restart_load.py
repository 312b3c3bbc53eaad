"""locust load around a proxy restart (suites/production/restart_load.py) and the background
runner's log parsing (loadgen/background.py), without a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.background import STARTED_MARKER, first_second, started_second
from loadgen.result import LoadResult, from_raw
from suites.production import restart_load

CHANGE = 1005.4  # the restart, epoch seconds: inside second 1005
ASKED = 50.0


def _result(per_second: dict[int, tuple[int, int]], cpu: list[float] | None = None) -> LoadResult:
    """A result whose epoch second s had n requests, f of them failed (timeouts)."""
    seconds = {str(s): {"n": n, "fail": {"timeout": f} if f else {}, "hist": {"1000": n - f} if n > f else {}}
               for s, (n, f) in per_second.items()}
    raw: dict[str, Any] = {"seconds": seconds, "cpu": {"w0": [[float(i), c] for i, c in enumerate(cpu or [20.0])]}}
    return from_raw(raw)


def _rows(per_second: dict[int, tuple[int, int]], cpu: list[float] | None = None) -> tuple[LoadResult, list[restart_load.Row]]:
    res = _result(per_second, cpu)
    return res, restart_load.rows(res, min(per_second), CHANGE)


STEADY = {s: (50, 0) for s in range(1000, 1015)}


def test_rows_line_up_with_the_change() -> None:
    _, rows = _rows({1000: (20, 0), 1002: (50, 3)})
    assert [(r.second, r.t, r.requests, r.failures) for r in rows] == [
        (1000, -5.4, 20, 0), (1001, -4.4, 0, 0), (1002, -3.4, 50, 3)]
    assert rows[1].disrupted and rows[2].disrupted and not rows[0].disrupted


def test_longest_failure_window_counts_failures_and_silent_seconds() -> None:
    per = dict(STEADY) | {1005: (50, 2), 1006: (0, 0), 1007: (10, 10), 1008: (50, 0), 1010: (50, 1)}
    _, rows = _rows(per)
    assert restart_load.longest_failure_window(rows) == (3, -0.4)
    _, calm = _rows(STEADY)
    assert restart_load.longest_failure_window(calm) == (0, None)


def test_rate_before_leaves_out_the_ramp_second_and_the_change_second() -> None:
    per = dict(STEADY) | {1000: (5, 0), 1005: (1, 0)}
    _, rows = _rows(per)
    assert restart_load.rate_before(rows, CHANGE) == 50.0  # seconds 1001..1004
    _, late = _rows({s: (50, 0) for s in range(1003, 1010)})
    assert restart_load.rate_before(late, CHANGE) is None  # only 1004 is a whole second before


def test_a_steady_run_is_a_measurement_and_recovered() -> None:
    res, rows = _rows(STEADY)
    assert restart_load.problems(res, rows, ASKED, CHANGE, until_s=1014.2) == []
    assert restart_load.recovered(rows)
    m = restart_load.as_metrics("locust_newconn", res, rows, ASKED, CHANGE)
    assert m["locust_newconn_requests"] == 750 and m["locust_newconn_failed_requests"] == 0
    assert m["locust_newconn_rps_before"] == 50.0 and m["locust_newconn_longest_failure_window_s"] == 0
    assert m["locust_newconn_timeline"][0] == [-5.4, 50, 0]


@pytest.mark.parametrize(("per", "cpu", "until", "needle"), [
    ({}, None, 1014.0, "no request"),
    ({s: (50, 0) for s in range(1004, 1015)}, None, 1014.0, "fewer than 2 whole seconds"),
    ({s: (30, 0) for s in range(1000, 1015)}, None, 1014.0, "starved: 30.0 requests/s"),
    (STEADY, [95.0, 96.0, 97.0], 1014.0, "CPU-bound"),
    ({s: (50, 0) for s in range(1000, 1010)}, None, 1014.0, "ended 4.0 s before"),
])
def test_runs_that_are_not_measurements(per: dict[int, tuple[int, int]], cpu: list[float] | None, until: float,
                                        needle: str) -> None:
    res = _result(per, cpu)
    rows = restart_load.rows(res, min(per) if per else None, CHANGE)
    why = restart_load.problems(res, rows, ASKED, CHANGE, until)
    assert any(needle in w for w in why), why


def test_failures_do_not_make_a_run_invalid() -> None:
    res, rows = _rows(dict(STEADY) | {1006: (50, 50), 1007: (50, 20)})
    assert restart_load.problems(res, rows, ASKED, CHANGE, until_s=1014.0) == []
    assert restart_load.recovered(rows)


@pytest.mark.parametrize(("tail", "ok"), [
    ({1012: (50, 0), 1013: (50, 0), 1014: (3, 3)}, True),   # the final, partial second does not count
    ({1012: (50, 0), 1013: (10, 10), 1014: (50, 0)}, False),
    ({1012: (20, 20), 1013: (50, 0), 1014: (50, 0)}, False),
])
def test_recovered_looks_at_the_last_whole_seconds(tail: dict[int, tuple[int, int]], ok: bool) -> None:
    _, rows = _rows(dict(STEADY) | tail)
    assert restart_load.recovered(rows) is ok


def test_background_log_parsing() -> None:
    log = f"[info] Starting\n{STARTED_MARKER}1700000001\n[info] more"
    assert started_second(log) == 1700000001
    assert started_second("[info] Starting\n") is None
    assert first_second({"seconds": {"17": {}, "12": {}}}) == 12
    assert first_second({"seconds": {}}) is None
