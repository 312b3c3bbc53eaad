"""The performance section: tables and chart specs from whatever performance metrics exist.

Chart specs are plain JSON-able dicts (``charts.js`` in ``static/`` turns them into Chart.js
charts), so what is charted can be unit-tested without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import metrics as m
from .aggregate import mode_key, short_test_id
from .load import ModeRun

ChartSpec = dict[str, Any]


@dataclass(frozen=True)
class PerfRow:
    test: str
    metric: str
    label: str
    unit: str
    better: str
    values: dict[str, float]  # mode -> value


@dataclass
class PerfSection:
    rows: list[PerfRow] = field(default_factory=list)
    charts: list[ChartSpec] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rows and not self.charts


def _slug(*parts: str) -> str:
    return "-".join("".join(c if c.isalnum() else "_" for c in p) for p in parts)


def _perf_tests(runs: Sequence[ModeRun]) -> dict[str, dict[str, dict[str, Any]]]:
    """test id -> mode -> metrics, for tests whose metrics hold something chartable."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in sorted(runs, key=lambda r: mode_key(r.mode)):
        for t in r.tests:
            if m.is_performance(t.get("metrics", {})):
                out.setdefault(t["id"], {})[r.mode] = t["metrics"]
    return out


def _xy_chart(cid: str, title: str, x_title: str, y_title: str,
              per_mode: dict[str, list[tuple[float, float]]]) -> ChartSpec:
    return {"id": cid, "title": title, "type": "line", "x": {"title": x_title, "type": "linear"},
            "y": {"title": y_title},
            "datasets": [{"label": mode, "data": [{"x": x, "y": y} for x, y in pts]}
                         for mode, pts in per_mode.items()]}


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
                sec.rows.append(PerfRow(test, key, mi.label, mi.unit, mi.better, scalars))
                if key not in m.PERCENTILES:
                    by_metric.setdefault(key, {})[test] = scalars
            if key in m.CURVES:
                curves = {mode: pts for mode, v in per_mode.items() if (pts := m.curve_points(v.get(key)))}
                if curves:
                    mi = m.CURVES[key]
                    sec.charts.append(_xy_chart(_slug("curve", test, key), f"{mi.label} vs number of Services: {test}",
                                                "Services", f"{mi.label} ({mi.unit})", curves))
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

