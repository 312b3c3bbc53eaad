"""The performance section: tables and chart specs from whatever performance metrics exist.

Chart specs are plain JSON-able dicts (``charts.js`` in ``static/`` turns them into Chart.js
charts), so what is charted can be unit-tested without a browser. A dataset of a curve chart may
carry ``interval``: ``[{"x": K, "lo": .., "hi": ..}]`` from the figure's ``<metric>_stats`` ci95,
drawn as a shaded band; a spec may carry a ``note`` shown under its title (what the band is,
which points are unreliable). Table rows carry each mode's 95 % interval and unreliable mark
(``significance.CV_BOUND``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from proxylab.results import Metrics

from . import metrics as m
from . import significance as sig
from .aggregate import mode_key, short_test_id
from .chartspec import Band, ChartSpec, Point
from .headline import fmt_k
from .load import ModeRun


@dataclass(frozen=True)
class PerfRow:
    test: str
    metric: str
    label: str
    unit: str
    better: str
    values: dict[str, float]  # mode -> value
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # mode -> 95 % interval
    unreliable: dict[str, str] = field(default_factory=dict)  # mode -> "unreliable (CV 14%)"


@dataclass(frozen=True)
class InvalidRuns:
    """Runs a suite discarded (``invalid_runs``): shown as a list, never as a figure."""

    test: str
    mode: str
    runs: tuple[str, ...]


@dataclass
class PerfSection:
    rows: list[PerfRow] = field(default_factory=list)
    charts: list[ChartSpec] = field(default_factory=list)
    invalid: list[InvalidRuns] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rows and not self.charts and not self.invalid


def _slug(*parts: str) -> str:
    return "-".join("".join(c if c.isalnum() else "_" for c in p) for p in parts)


def _perf_tests(runs: Sequence[ModeRun]) -> dict[str, dict[str, Metrics]]:
    """test id -> mode -> metrics, for tests whose metrics hold something chartable."""
    out: dict[str, dict[str, Metrics]] = {}
    for r in sorted(runs, key=lambda r: mode_key(r.mode)):
        for t in r.tests:
            if m.is_performance(t.get("metrics", {})):
                out.setdefault(t["id"], {})[r.mode] = t["metrics"]
    return out


def _xy_chart(cid: str, title: str, x_title: str, y_title: str,
              per_mode: dict[str, list[tuple[float, float]]]) -> ChartSpec:
    return {"id": cid, "title": title, "type": "line", "x": {"title": x_title, "type": "linear"},
            "y": {"title": y_title},
            "datasets": [{"label": mode, "data": [Point(x=x, y=y) for x, y in pts]}
                         for mode, pts in per_mode.items()]}


def _samples(stats: dict[str, object]) -> dict[str, sig.Sample]:
    return {mode: s for mode, st in stats.items() if (s := sig.sample(st)) is not None}


def _curve_chart(test: str, key: str, curves: dict[str, list[tuple[float, float]]],
                 per_mode: dict[str, Metrics]) -> ChartSpec:
    """A curve over K, with each mode's 95 % interval as a band and its unreliable points named."""
    mi = m.CURVES[key]
    spec = _xy_chart(_slug("curve", test, key), f"{mi.label} vs number of Services: {test}",
                     "Services", f"{mi.label} ({mi.unit})", curves)
    banded, shaky = False, []
    for ds in spec["datasets"]:
        mode = ds["label"]
        at = m.curve_stats(m.stats_of(per_mode[mode], key))
        band: list[Band] = []
        marks: list[str] = []
        for k, _ in curves[mode]:
            s = sig.sample(at.get(k))
            if s is None:
                continue
            if s.ci95 is not None:
                band.append(Band(x=k, lo=s.ci95[0], hi=s.ci95[1]))
            if s.unreliable:
                marks.append(f"{fmt_k(k)} {s.unreliable.removeprefix('unreliable ')}")
        if band:
            ds["interval"] = band
            banded = True
        if marks:
            shaky.append(f"{mode} at K = {', '.join(marks)}")
    notes = (["shaded: 95% interval of the repeats"] if banded else []) + (
        ["unreliable: " + "; ".join(shaky)] if shaky else [])
    if notes:
        spec["note"] = "; ".join(notes)
    return spec


def invalid_runs(runs: Sequence[ModeRun]) -> list[InvalidRuns]:
    """Every test's discarded runs, by mode order then test order."""
    return [InvalidRuns(short_test_id(t["id"]), r.mode, tuple(bad))
            for r in sorted(runs, key=lambda r: mode_key(r.mode)) for t in r.tests
            if (bad := m.invalid_runs(t.get("metrics", {})))]


def section(runs: Sequence[ModeRun]) -> PerfSection:
    """Table rows and charts for every performance metric present in the current runs."""
    sec = PerfSection()
    tests = _perf_tests(runs)
    modes = sorted({r.mode for r in runs}, key=mode_key)
    by_metric: dict[str, dict[str, dict[str, float]]] = {}  # metric -> test -> mode -> value
    for test_id, per_mode in tests.items():
        test = short_test_id(test_id)
        keys = sorted({k for metrics in per_mode.values() for k in metrics})
        for key in keys:
            scalars = {mode: float(v[key]) for mode, v in per_mode.items() if m.is_number(v.get(key))}
            if key in m.SCALARS and scalars:
                mi = m.SCALARS[key]
                samples = _samples({mode: m.stats_of(v, key) for mode, v in per_mode.items() if mode in scalars})
                sec.rows.append(PerfRow(test, key, mi.label, mi.unit, mi.better, scalars,
                                        {mode: s.ci95 for mode, s in samples.items() if s.ci95 is not None},
                                        {mode: s.unreliable for mode, s in samples.items() if s.unreliable}))
                if key not in m.PERCENTILES:
                    by_metric.setdefault(key, {})[test] = scalars
            if key in m.CURVES:
                curves = {mode: pts for mode, v in per_mode.items() if (pts := m.curve_points(v.get(key)))}
                if curves:
                    sec.charts.append(_curve_chart(test, key, curves, per_mode))
            if key.endswith("timeline"):
                lines = {mode: pts for mode, v in per_mode.items() if (pts := m.timeline_points(v.get(key)))}
                if lines:
                    sec.charts.append(_xy_chart(_slug("timeline", test, key), f"{key.replace('_', ' ')}: {test}",
                                                "time (s)", "value", lines))
        pcts = [p for p in m.PERCENTILES if any(m.is_number(v.get(p)) for v in per_mode.values())]
        if pcts:
            sec.charts.append({
                "id": _slug("pct", test), "title": f"latency percentiles: {test}", "type": "bar",
                "x": {"title": "percentile", "type": "category"}, "y": {"title": "latency (ms)"},
                "labels": [p.removesuffix("_ms") for p in pcts],
                "datasets": [{"label": mode, "data": [v.get(p) if m.is_number(v.get(p)) else None for p in pcts]}
                             for mode, v in per_mode.items()]})
    sec.invalid = invalid_runs(runs)
    for key, per_test in by_metric.items():
        mi = m.SCALARS[key]
        labels = list(per_test)
        sec.charts.append({
            "id": _slug("scalar", key), "title": f"{mi.label} ({mi.unit}, {mi.better} is better)", "type": "bar",
            "x": {"title": "test", "type": "category"}, "y": {"title": f"{mi.label} ({mi.unit})"},
            "labels": labels,
            "datasets": [{"label": mode, "data": [per_test[t].get(mode) for t in labels]} for mode in modes
                         if any(mode in per_test[t] for t in labels)]})
    return sec

