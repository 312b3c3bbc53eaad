"""Trends across runs and regressions of the newest run against the one before it.

Only metrics with a known direction (``metrics.info``) are trended, plus two per-mode series
every run has: passed tests and cluster creation time. A regression is a change in the bad
direction of more than ``threshold`` (relative, and larger than the unit's noise floor
``metrics.NOISE_FLOOR``: sub-millisecond jitter is not a regression) between a mode's two newest
runs, or a test that passed in the previous run and fails now.

A figure that carries its repeat values (``<metric>_stats``) in both runs is held to the same rule
as a comparison between modes (``significance``): it is a regression only when Welch's t-test on
the two runs' repeat values gives p < ALPHA, and it is not compared at all when either run's
figure is unreliable (CV above the bound, or flagged by its suite): a mean that moved within the
noise measured is not a regression. A figure without repeats (one value per run, e.g. the cluster
creation time) is judged on the threshold alone, and the regression says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import metrics as m
from . import significance as sig
from .aggregate import mode_key, run_key, short_test_id
from .chartspec import ChartSpec
from .load import ModeRun

DEFAULT_THRESHOLD = 0.10
SeriesKey = tuple[str, str]  # (test label or "run", metric)


@dataclass(frozen=True)
class Regression:
    mode: str
    test: str
    metric: str
    previous_run: str
    previous: float | str
    current_run: str
    current: float | str
    change: float | None  # relative; None for verdict changes
    evidence: str = ""  # how the change was judged: Welch's test on the repeats, or a single value each

    def describe(self) -> str:
        if self.change is None:
            return f"{self.mode} {self.test}: {self.previous} in {self.previous_run} -> {self.current}"
        how = f"; {self.evidence}" if self.evidence else ""
        return (f"{self.mode} {self.test} {self.metric}: {self.previous:.4g} -> {self.current:.4g} "
                f"({self.change:+.0%}) vs {self.previous_run}{how}")


SINGLE_VALUES = "one value per run, no repeats: judged on the threshold alone, not significance-tested"


def _repeats(run: ModeRun, test: str, metric: str) -> sig.Sample | None:
    """The repeat values a passed test stored for ``metric`` (``<metric>_stats``), if any."""
    for t in run.tests:
        if t["verdict"] == "passed" and short_test_id(t["id"]) == test:
            return sig.sample(t.get("metrics", {}).get(f"{metric}_stats"))
    return None


def _evidence(prev: ModeRun, cur: ModeRun, test: str, metric: str) -> str | None:
    """How a change beyond the threshold is judged: the text a regression carries, or None when it
    is not one (within the noise measured by the repeats, or a figure too noisy to compare)."""
    a, b = _repeats(prev, test, metric), _repeats(cur, test, metric)
    if a is None or b is None or not a.testable or not b.testable:
        return SINGLE_VALUES
    if a.unreliable or b.unreliable:
        return None
    p, _ = sig.welch_p(a.values, b.values)
    if p >= sig.ALPHA:
        return None
    return f"{sig.TEST_NAME} on the repeats {sig.fmt_p(p)} (n = {a.n} vs {b.n})"


def run_order(runs: Sequence[ModeRun]) -> list[str]:
    """Run ids, oldest first (by the earliest start time among each run's modes)."""
    first: dict[str, tuple[str, str]] = {}
    for r in runs:
        first[r.run_id] = min(first.get(r.run_id, run_key(r)), run_key(r))
    return sorted(first, key=lambda rid: first[rid])


def series(runs: Sequence[ModeRun]) -> dict[SeriesKey, dict[str, dict[str, float]]]:
    """(test, metric) -> mode -> run id -> value, for every trended metric."""
    out: dict[SeriesKey, dict[str, dict[str, float]]] = {}

    def put(key: SeriesKey, mode: str, run_id: str, value: float) -> None:
        out.setdefault(key, {}).setdefault(mode, {})[run_id] = value

    for r in runs:
        put(("run", "passed_tests"), r.mode, r.run_id, float(sum(t["verdict"] == "passed" for t in r.tests)))
        up = (r.run.get("cluster") or {}).get("up_seconds")
        if isinstance(up, int | float):
            put(("run", "cluster_up_seconds"), r.mode, r.run_id, float(up))
        for t in r.tests:
            if t["verdict"] != "passed":
                continue  # a failed test's numbers measure the failure, not the proxy
            for key, v in t.get("metrics", {}).items():
                if m.is_number(v) and m.info(key) is not None:
                    put((short_test_id(t["id"]), key), r.mode, r.run_id, float(v))
    return out


def _better(metric: str) -> str:
    if metric == "passed_tests":
        return "higher"
    mi = m.info(metric)
    return mi.better if mi else "lower"


def regressions(runs: Sequence[ModeRun], threshold: float = DEFAULT_THRESHOLD) -> list[Regression]:
    """Regressions of each mode's newest run against its previous one."""
    order = run_order(runs)
    found: list[Regression] = []
    by_mode: dict[str, list[ModeRun]] = {}
    for r in runs:
        by_mode.setdefault(r.mode, []).append(r)
    pairs: dict[str, tuple[ModeRun, ModeRun]] = {}
    for mode, rs in by_mode.items():
        rs.sort(key=lambda r: order.index(r.run_id))
        if len(rs) >= 2:
            pairs[mode] = (rs[-2], rs[-1])
    for (test, metric), per_mode in series(runs).items():
        for mode, (prev, cur) in pairs.items():
            values = per_mode.get(mode, {})
            if prev.run_id not in values or cur.run_id not in values:
                continue
            a, b = values[prev.run_id], values[cur.run_id]
            if a == 0:
                continue  # no relative change from zero
            change = (b - a) / abs(a)
            mi = m.info(metric)
            if abs(b - a) < m.NOISE_FLOOR.get(mi.unit if mi else "", 0.0):
                continue
            worse = change > threshold if _better(metric) == "lower" else change < -threshold
            evidence = _evidence(prev, cur, test, metric) if worse and test != "run" else SINGLE_VALUES
            if worse and evidence is not None:
                found.append(Regression(mode, test, metric, prev.run_id, a, cur.run_id, b, change, evidence))
    for mode, (prev, cur) in pairs.items():
        before = {t["id"]: t["verdict"] for t in prev.tests}
        for t in cur.tests:
            if t["verdict"] == "failed" and before.get(t["id"]) == "passed":
                found.append(Regression(mode, short_test_id(t["id"]), "verdict", prev.run_id, "passed",
                                        cur.run_id, "failed", None))
    return sorted(found, key=lambda g: (mode_key(g.mode), g.test, g.metric))


def charts(runs: Sequence[ModeRun]) -> list[ChartSpec]:
    """One trend chart per (test, metric): x = run id (oldest first), one line per mode."""
    order = run_order(runs)
    specs: list[ChartSpec] = []
    for i, ((test, metric), per_mode) in enumerate(sorted(series(runs).items())):
        mi = m.info(metric)
        unit = f" ({mi.unit})" if mi and mi.unit else ""
        name = mi.label if mi else metric.replace("_", " ")
        title = f"{name}{unit}" + ("" if test == "run" else f": {test}")
        specs.append({
            "id": f"trend-{i}", "title": title, "type": "line", "x": {"title": "run", "type": "category"},
            "y": {"title": name + unit}, "labels": order,
            "datasets": [{"label": mode, "data": [vals.get(rid) for rid in order]}
                         for mode, vals in sorted(per_mode.items(), key=lambda kv: mode_key(kv[0]))]})
    return specs
