"""When may the report call one mode better than another? Pure statistics, no I/O.

The rule, in one place:

- A figure is compared only through its per-repeat values (``<metric>_stats["values"]``, written
  by ``proxylab/perf/summary.py``). Two samples differ when **Welch's two-sided t-test**
  (``scipy.stats.ttest_ind(equal_var=False)``: unequal variances, no pairing) gives
  ``p < ALPHA`` (0.05). The size of a difference is the ratio of the two means.
- A mode with fewer than 2 values is *not testable* (no spread, no test); so is a row with fewer
  than two testable modes. Nothing is ranked then.
- A figure whose coefficient of variation (sd/mean over the repeats) is above ``CV_BOUND`` (0.10),
  or whose stats say ``"reliable": false`` (the suite's own judgement), is *unreliable*: it is
  shown with that mark and never enters a ranking.
- With more than two modes every pair is tested separately at ``ALPHA`` (no correction for
  multiple comparisons: over many pairs and rows, about one in twenty true ties can come out
  "significant"). A mode is *best* only when it is significantly better than every other
  testable mode; requiring all of those tests to reject keeps the chance of wrongly naming a best
  mode at ``ALPHA`` (an intersection-union test, so no correction is needed for that claim).

Zero-variance samples, where Welch's statistic is 0/0 (scipy would warn and return nan):

- identical constants: no difference, p = 1;
- one sample constant, the other not: Welch's test is still defined (the standard error comes
  from the other sample) and is computed from the summary statistics
  (``scipy.stats.ttest_ind_from_stats``), which avoids scipy's precision-loss path;
- two *different* constants: Welch's t would be infinite (p = 0), which would claim certainty from
  as few as two repeats each. Instead the p-value is the exact two-sided permutation probability
  of so complete a separation, ``2 / C(n_a + n_b, n_a)``: the chance that, were the modes the
  same, the pooled values would fall into the two groups this cleanly. It needs no variance, and
  it is honest about small n (2 vs 2 repeats: p = 0.33, not significant; 5 vs 5: p = 0.008).

No p-value returned here is nan: every path yields a number in [0, 1].
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

from scipy import stats as sp

from proxylab.perf.summary import CV_BOUND as CV_BOUND  # one bound for the suites and the report

from .metrics import Better

ALPHA = 0.05
"""Significance level of every comparison in the report."""
TEST_NAME = "Welch's t-test"
METHOD = (f"{TEST_NAME} (two-sided, unequal variances; scipy.stats.ttest_ind, equal_var=False) on the "
          f"per-repeat values, alpha = {ALPHA:g}")
TIMES = "\u00d7"  # the multiplication sign of "1.25x", spelled out for the linter

Method = Literal["welch", "constant", "permutation"]


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def pct(x: float) -> str:
    """0.143 -> ``14%``, 0.006 -> ``0.6%``."""
    return f"{x * 100:.0f}%" if abs(x) >= 0.1 else f"{x * 100:.2g}%"


@dataclass(frozen=True)
class Sample:
    """One figure of one mode: its repeat values and the summary the suite stored with them."""

    values: tuple[float, ...]
    mean: float | None
    ci95: tuple[float, float] | None = None
    cv: float | None = None
    flagged: bool = False  # the suite wrote "reliable": false
    cv_bound: float | None = None  # the bound the suite judged by, if it said

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def testable(self) -> bool:
        return self.n >= 2

    @property
    def unreliable(self) -> str:
        """``""`` when reliable, else the mark the report shows, e.g. ``unreliable (CV 14%)``."""
        cv = f"CV {pct(abs(self.cv))}" if self.cv is not None else ""
        if self.flagged:
            bound = f" above the suite's bound {pct(self.cv_bound)}" if self.cv_bound is not None and cv else ""
            return f"unreliable ({cv}{bound}, flagged by the suite)" if cv else "unreliable (flagged by the suite)"
        if self.cv is not None and abs(self.cv) > CV_BOUND:
            return f"unreliable ({cv})"
        return ""

    def scaled(self, factor: float) -> Sample:
        """The same sample in another unit (e.g. seconds to ms); the CV does not change."""
        if factor == 1.0:
            return self
        return Sample(tuple(v * factor for v in self.values), None if self.mean is None else self.mean * factor,
                      None if self.ci95 is None else (self.ci95[0] * factor, self.ci95[1] * factor),
                      self.cv, self.flagged, self.cv_bound)


def sample(stats: Any) -> Sample | None:
    """A Sample from a ``Summary.as_metrics()`` dict; None if ``stats`` is not one.

    Values that are missing or not finite are left out. The mean, CV and interval are taken from
    the dict when present, else computed from the values (CV only for n >= 2 and a non-zero mean).
    """
    if not isinstance(stats, dict):
        return None
    raw = stats.get("values")
    values = tuple(float(v) for v in raw if _finite(v)) if isinstance(raw, list) else ()
    mean = float(stats["mean"]) if _finite(stats.get("mean")) else (statistics.fmean(values) if values else None)
    ci = stats.get("ci95")
    ci95 = (float(ci[0]), float(ci[1])) if isinstance(ci, list | tuple) and len(ci) == 2 and all(
        _finite(c) for c in ci) else None
    if _finite(stats.get("cv")):
        cv: float | None = float(stats["cv"])
    elif len(values) >= 2 and statistics.fmean(values) != 0:
        cv = statistics.stdev(values) / statistics.fmean(values)
    else:
        cv = None
    bound = float(stats["cv_bound"]) if _finite(stats.get("cv_bound")) else None
    return Sample(values, mean, ci95, cv, stats.get("reliable") is False, bound)


def welch_p(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, Method]:
    """Two-sided p-value that xs and ys have the same mean, and how it was obtained (never nan).

    Both need at least 2 values (``ValueError`` otherwise). See the module docstring for the
    zero-variance cases.
    """
    if len(xs) < 2 or len(ys) < 2:
        raise ValueError(f"Welch's t-test needs at least 2 values per sample, got {len(xs)} and {len(ys)}")
    x_const, y_const = max(xs) == min(xs), max(ys) == min(ys)
    if x_const and y_const:
        if xs[0] == ys[0]:
            return 1.0, "constant"
        return min(1.0, 2.0 / math.comb(len(xs) + len(ys), len(xs))), "permutation"
    if x_const or y_const:
        p = sp.ttest_ind_from_stats(statistics.fmean(xs), 0.0 if x_const else statistics.stdev(xs), len(xs),
                                    statistics.fmean(ys), 0.0 if y_const else statistics.stdev(ys), len(ys),
                                    equal_var=False).pvalue
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            p = sp.ttest_ind(xs, ys, equal_var=False).pvalue
        if caught:  # nearly identical values: scipy's moments lost precision; statistics' are exact
            p = sp.ttest_ind_from_stats(statistics.fmean(xs), statistics.stdev(xs), len(xs),
                                        statistics.fmean(ys), statistics.stdev(ys), len(ys), equal_var=False).pvalue
    p = float(p)
    return (min(1.0, max(0.0, p)) if math.isfinite(p) else 1.0), "welch"


def ratio(a: float, b: float) -> float | None:
    """a / b, None when b is 0."""
    return a / b if b else None


def fmt_p(p: float) -> str:
    """0.0031 -> ``p = 0.0031``, 0.4163 -> ``p = 0.42``; three significant digits near alpha, so 0.0496 is not "0.05"."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}" if p < 0.1 else f"p = {p:.2f}"


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}{TIMES}"


@dataclass(frozen=True)
class Comparison:
    """Two modes' samples of one figure. ``ratio`` = mean of a / mean of b."""

    a: str
    b: str
    mean_a: float
    mean_b: float
    p: float
    method: Method
    winner: str | None  # a or b when p < ALPHA, else None

    @property
    def significant(self) -> bool:
        return self.winner is not None

    @property
    def loser(self) -> str | None:
        return None if self.winner is None else (self.b if self.winner == self.a else self.a)

    def factor(self) -> str:
        """The winner's mean over the other's, e.g. ``1.25x`` (both means when the other's is 0)."""
        w_mean, o_mean = (self.mean_b, self.mean_a) if self.winner == self.b else (self.mean_a, self.mean_b)
        r = ratio(w_mean, o_mean)
        return fmt_ratio(r) if r is not None else f"{w_mean:.4g} vs {o_mean:.4g}"


def compare(a: str, sa: Sample, b: str, sb: Sample, better: Better) -> Comparison:
    """Welch's test between two testable samples; the winner is the one in the ``better`` direction."""
    p, method = welch_p(sa.values, sb.values)
    ma, mb = statistics.fmean(sa.values), statistics.fmean(sb.values)
    winner = None
    if p < ALPHA and ma != mb:
        winner = a if (ma > mb) == (better == "higher") else b
    return Comparison(a, b, ma, mb, p, method, winner)


Status = Literal["untestable", "same", "best", "partial"]


@dataclass(frozen=True)
class Ranking:
    """What one row of the headline may say about its modes."""

    status: Status
    better: Better
    best: frozenset[str] = frozenset()
    comparisons: tuple[Comparison, ...] = ()
    excluded: dict[str, str] = field(default_factory=dict)  # mode -> why it was not compared

    @property
    def significant(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.significant)

    def text(self) -> str:
        """The verdict in plain words, with sizes (ratio of means) and p-values."""
        better = f"better ({self.better})"
        left = "; ".join(f"{m} {why}" for m, why in self.excluded.items())
        if self.status == "untestable":
            return "not testable: " + (left or "n < 2")
        c = self.comparisons
        if self.status == "same":
            out = (f"no measurable difference (Welch {fmt_p(c[0].p)})" if len(c) == 1 else
                   f"no measurable difference between any two modes (smallest Welch {fmt_p(min(x.p for x in c))})")
        elif self.status == "best":
            [best] = self.best
            sizes = ", ".join(f"{x.factor()} {x.loser} (Welch {fmt_p(x.p)})" for x in self.significant if x.winner == best)
            out = f"{best} {better}: {sizes}" if len(c) == 1 else f"{best} best, {better} than every other mode: {sizes}"
        else:
            pairs = "; ".join(f"{x.winner} {better} than {x.loser} ({x.factor()}, Welch {fmt_p(x.p)})"
                              for x in self.significant)
            rest = len(c) - len(self.significant)
            out = f"no single best mode: {pairs}; {rest} other pair{'s' if rest != 1 else ''} within noise"
        return out + (f"; left out: {left}" if left else "")


def excluded_reason(s: Sample | None) -> str:
    """Why a mode's sample cannot enter a ranking ("" if it can)."""
    if s is None or not s.values:
        return "n < 2 (no repeat values)"
    if not s.testable:
        return f"n < 2 (n = {s.n})"
    return s.unreliable


def rank(samples: Mapping[str, Sample | None], better: Better) -> Ranking:
    """Compare every pair of testable, reliable modes; name a best mode only if it beats all others."""
    excluded = {m: why for m, s in samples.items() if (why := excluded_reason(s))}
    usable = {m: s for m, s in samples.items() if m not in excluded and s is not None}
    if len(samples) < 2:
        only = next(iter(samples), "no mode")
        return Ranking("untestable", better, excluded={only: "is the only mode that measured it"})
    if len(usable) < 2:
        return Ranking("untestable", better, excluded=excluded)
    comps = tuple(compare(a, usable[a], b, usable[b], better) for a, b in combinations(usable, 2))
    sig = [c for c in comps if c.significant]
    if not sig:
        return Ranking("same", better, comparisons=comps, excluded=excluded)
    beats = {m: {c.loser for c in sig if c.winner == m} for m in usable}
    best = frozenset(m for m, lost in beats.items() if len(lost) == len(usable) - 1)
    return Ranking("best" if best else "partial", better, best, comps, excluded)


@dataclass(frozen=True)
class Change:
    """One mode's figure at the largest K against the smallest K (``ratio`` = hi mean / lo mean)."""

    k_lo: float
    k_hi: float
    mean_lo: float
    mean_hi: float
    ratio: float | None
    p: float
    method: Method

    @property
    def significant(self) -> bool:
        return self.p < ALPHA


def change(k_lo: float, lo: Sample | None, k_hi: float, hi: Sample | None) -> Change | None:
    """Welch's test between the repeats at two K's; None if either is not testable or unreliable."""
    if lo is None or hi is None or excluded_reason(lo) or excluded_reason(hi):
        return None
    p, method = welch_p(lo.values, hi.values)
    mean_lo, mean_hi = statistics.fmean(lo.values), statistics.fmean(hi.values)
    return Change(k_lo, k_hi, mean_lo, mean_hi, ratio(mean_hi, mean_lo), p, method)
