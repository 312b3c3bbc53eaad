"""Repeat statistics: mean, coefficient of variation and a 95 % Student-t confidence interval.

Method: the n repeats of a scenario are treated as independent samples; the interval is
``mean ± t(0.975, n-1) · s/√n`` (``scipy.stats.t.interval``), the CV is ``s / mean`` with the
sample standard deviation (ddof=1). One repeat gives no spread and no interval (None). Ratios to
the baseline are formed per repeat (repeat i of the Service over repeat i of the baseline, both
measured in the same run) and then summarised the same way.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as sp

CONFIDENCE = 0.95
CV_BOUND = 0.10
"""A figure whose repeats vary by more than this (sd/mean) is unreliable: the suites flag it in
results.json and the report never ranks it (one bound for both)."""


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float | None
    sd: float | None
    cv: float | None
    ci95: tuple[float, float] | None
    values: tuple[float, ...]

    def as_metrics(self, digits: int = 4) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, digits)
        return {"n": self.n, "mean": r(self.mean), "sd": r(self.sd), "cv": r(self.cv),
                "ci95": None if self.ci95 is None else [r(self.ci95[0]), r(self.ci95[1])],
                "values": [r(v) for v in self.values],
                "method": "mean of repeats; 95% CI Student t (scipy.stats.t.interval), CV = sd/mean (ddof=1)"}


def summarize(values: Sequence[float | None]) -> Summary:
    """Summary of the repeats that produced a number (None values are left out and not counted)."""
    xs = tuple(float(v) for v in values if v is not None and math.isfinite(float(v)))
    if not xs:
        return Summary(0, None, None, None, None, ())
    mean = statistics.fmean(xs)
    if len(xs) < 2:
        return Summary(1, mean, None, None, None, xs)
    sd = statistics.stdev(xs)
    cv = sd / mean if mean else None
    if sd == 0:
        ci = (mean, mean)
    else:
        lo, hi = sp.t.interval(CONFIDENCE, len(xs) - 1, loc=mean, scale=sd / math.sqrt(len(xs)))
        ci = (float(lo), float(hi))
    return Summary(len(xs), mean, sd, cv, ci, xs)


def reliable(s: Summary) -> bool:
    """At least two repeats and a CV within CV_BOUND."""
    return s.n >= 2 and s.cv is not None and abs(s.cv) <= CV_BOUND


def paired_ratios(numerator: Sequence[float | None], denominator: Sequence[float | None]) -> list[float | None]:
    """Per-repeat ratios ``numerator[i] / denominator[i]``; None where either is missing or zero."""
    if len(numerator) != len(denominator):
        raise ValueError(f"{len(numerator)} measurements against {len(denominator)} baselines: pair them by repeat")
    return [None if a is None or not b else a / b for a, b in zip(numerator, denominator, strict=True)]


def steady_rps(per_second: Sequence[int]) -> float:
    """Requests/s over whole seconds of the steady state: the first second (users still spawning)
    and the last (cut off by the run's end) are partial and left out when at least 3 seconds remain."""
    core = list(per_second[1:-1]) if len(per_second) >= 5 else list(per_second)
    return round(statistics.fmean(core), 1) if core else 0.0
