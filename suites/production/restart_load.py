"""locust load around a disruption: what its per-second timeline says, and whether the run is a
measurement at all (pure, unit-tested in suites/unit/test_restart_load.py).

The load runs in the background (:mod:`loadgen.background`) from before the disruption until
after traffic recovered. Its timeline has one row per second (requests started in that second,
failures by kind); seconds are epoch seconds of the host clock, which the kind nodes share with
the harness, so they line up with the moment the harness acted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loadgen import LoadResult
from loadgen.result import CPU_BOUND_PERCENT, CPU_BOUND_WINDOW

MIN_RATE_SHARE = 0.8  # before the disruption the run must reach this share of the rate it asked for
MIN_SECONDS_BEFORE = 2  # whole seconds of load before the disruption (after the first, ramp-up second)
RECOVERED_SECONDS = 2  # the last whole seconds before the stop must each have answers


@dataclass(frozen=True)
class Row:
    """One second of the run; ``t`` is its start relative to the disruption (seconds, may be < 0)."""

    second: int  # epoch second
    t: float
    requests: int
    failures: int

    @property
    def disrupted(self) -> bool:
        """A failure in this second, or no request started at all (every user was still waiting)."""
        return self.failures > 0 or self.requests == 0


def rows(res: LoadResult, first_second: int | None, change_s: float) -> list[Row]:
    if first_second is None:
        return []
    return [Row(first_second + s.t, round(first_second + s.t - change_s, 3), s.requests, sum(s.failures.values()))
            for s in res.timeline]


def longest_failure_window(timeline: Sequence[Row]) -> tuple[int, float | None]:
    """The longest run of consecutive disrupted seconds: (its length in seconds, the start of its
    first second relative to the disruption); (0, None) when no second was disrupted."""
    best, best_t, cur, cur_t = 0, None, 0, None
    for row in timeline:
        if row.disrupted:
            if cur == 0:
                cur_t = row.t
            cur += 1
            if cur > best:
                best, best_t = cur, cur_t
        else:
            cur = 0
    return best, best_t


def rate_before(timeline: Sequence[Row], change_s: float) -> float | None:
    """Mean requests per second over the whole seconds before the disruption's second, the first
    (ramp-up, partial) second left out; None when fewer than MIN_SECONDS_BEFORE such seconds."""
    before = [r.requests for r in timeline[1:] if r.second < int(change_s)]
    if len(before) < MIN_SECONDS_BEFORE:
        return None
    return round(sum(before) / len(before), 1)


def recovered(timeline: Sequence[Row]) -> bool:
    """Whether the last RECOVERED_SECONDS whole seconds (the final, partial second left out) each had answers."""
    tail = list(timeline[:-1])[-RECOVERED_SECONDS:]
    return len(tail) == RECOVERED_SECONDS and all(r.requests > r.failures for r in tail)


def problems(res: LoadResult, timeline: Sequence[Row], asked_rps: float, change_s: float, until_s: float) -> list[str]:
    """Why a background run is not a measurement of the disruption: no request; too little load
    before it (started late, or starved: below MIN_RATE_SHARE of the asked rate); a CPU-bound
    generator; or it stopped before ``until_s`` (the end of the observed window)."""
    out = []
    if res.requests == 0 or not timeline:
        return ["no request was made (0 requests)"]
    rate = rate_before(timeline, change_s)
    if rate is None:
        out.append(f"fewer than {MIN_SECONDS_BEFORE} whole seconds of load before the disruption "
                   f"(first request {timeline[0].t:+.0f} s from it)")
    elif rate < MIN_RATE_SHARE * asked_rps:
        out.append(f"starved: {rate} requests/s before the disruption, below {MIN_RATE_SHARE:.0%} of the "
                   f"{asked_rps:g} asked (the generator could not keep its rate)")
    if res.generator_bound:
        out.append(f"a locust worker was CPU-bound (above {CPU_BOUND_PERCENT:.0f} % of a core for "
                   f"{CPU_BOUND_WINDOW} s): the generator, not the path, limited the rate")
    if timeline[-1].second < int(until_s) - 1:
        out.append(f"the run ended {until_s - timeline[-1].second - 1:.1f} s before the observed window did")
    return out


def as_metrics(prefix: str, res: LoadResult, timeline: Sequence[Row], asked_rps: float, change_s: float) -> dict[str, Any]:
    """The run's figures under ``<prefix>_``: requests, failures (total and by kind), the longest
    window of disrupted seconds, the rate before the disruption against the asked one, the
    generator's CPU; and the timeline as detail ([t, requests, failures] per second)."""
    window, window_t = longest_failure_window(timeline)
    return {
        f"{prefix}_requests": res.requests, f"{prefix}_failed_requests": res.failures,
        f"{prefix}_failed_by_kind": dict(sorted(res.failures_by_kind.items())),
        f"{prefix}_longest_failure_window_s": window, f"{prefix}_failure_window_start_s": window_t,
        f"{prefix}_rps_before": rate_before(timeline, change_s), f"{prefix}_asked_rps": asked_rps,
        f"{prefix}_worker_cpu_max_percent": max((w.max for w in res.workers), default=0.0),
        f"{prefix}_worker_cpu_mean_percent": max((w.mean for w in res.workers), default=0.0),
        f"{prefix}_generator_bound": res.generator_bound,
        f"{prefix}_timeline": [[r.t, r.requests, r.failures] for r in timeline],
    }
