"""The headline comparison: a short, curated table of the figures people compare modes by.

The performance section lists every metric of every test; this table picks the dozen a reader
looks for first (Service overhead vs the pod-IP baseline, tail latency, failover, programming
latency at the largest number of Services, the proxy's own cost), gives them plain labels, and
marks the best mode of each row and how far the others are from it. Figures come from passing
tests only (a failed test's numbers stay in its matrix cell). A figure no mode measured is left
out; a mode that did not measure it shows a dash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import metrics as m
from .aggregate import mode_key
from .load import ModeRun
from .metrics import Better


@dataclass(frozen=True)
class Figure:
    """Where one headline figure lives in results.json.

    ``test``: the test's name after the last ``::`` (with its parameters); ``metric``: a scalar
    key of its metrics, or a curve ``{K: value}`` when ``curve`` is set (the value at the largest
    K every reporting mode measured is shown, and the K goes into the label). ``scale`` converts
    the stored unit to the shown one (e.g. seconds to ms).
    """

    label: str
    test: str
    metric: str
    unit: str
    better: Better
    curve: bool = False
    scale: float = 1.0


FIGURES: tuple[Figure, ...] = (
    Figure("ClusterIP keep-alive throughput / pod-IP baseline", "test_cluster_ip[keepalive]",
           "ratio_to_baseline", "x", "higher"),
    Figure("ClusterIP new-connection throughput / pod-IP baseline", "test_cluster_ip[newconn]",
           "ratio_to_baseline", "x", "higher"),
    Figure("ClusterIP new-connection p99 latency", "test_cluster_ip[newconn]", "p99_ms", "ms", "lower"),
    Figure("failover, backend killed: victim out after", "test_failover[kill]", "victim_gone_s", "s", "lower"),
    Figure("failover, backend killed: failed requests", "test_failover[kill]", "errors_total", "", "lower"),
    Figure("failover, backend unready: victim out after", "test_failover[unready]", "victim_gone_s", "s", "lower"),
    Figure("failover, backend drained: failed requests", "test_failover[drain]", "errors_total", "", "lower"),
    Figure("new Service: first success after", "test_programming_latency_new_service",
           "programming_latency", "s", "lower", curve=True),
    Figure("new endpoint: first success after", "test_programming_latency_new_endpoint",
           "programming_latency", "s", "lower", curve=True),
    Figure("first packet (TCP connect) p50", "test_first_packet_latency",
           "first_packet_latency", "ms", "lower", curve=True, scale=1000.0),
    Figure("proxy CPU while Services are created", "test_proxy_resources_during_sweep",
           "cpu_millicores", "millicores", "lower"),
    Figure("proxy memory after the Service sweep", "test_proxy_resources_during_sweep",
           "memory_mib", "MiB", "lower"),
)


@dataclass(frozen=True)
class HeadlineRow:
    label: str
    unit: str
    better: Better
    values: dict[str, float]  # mode -> value
    best: frozenset[str] = field(default_factory=frozenset)

    def times_best(self, mode: str) -> float | None:
        """How many times worse than the best this mode is (1.0 for the best), None if unknown or 0."""
        if mode not in self.values or not self.best:
            return None
        best = self.values[next(iter(self.best))]
        value = self.values[mode]
        if best == value:
            return 1.0
        worse, better = (value, best) if self.better == "lower" else (best, value)
        return worse / better if better > 0 else None


def _metrics_of(run: ModeRun, test: str) -> dict[str, Any] | None:
    for t in run.tests:
        if t["id"].rsplit("::", 1)[-1] == test and t.get("verdict") == "passed":
            metrics: dict[str, Any] = t.get("metrics", {})
            return metrics
    return None


def _row(fig: Figure, runs: Sequence[ModeRun]) -> HeadlineRow | None:
    found = {r.mode: mx for r in runs if (mx := _metrics_of(r, fig.test)) is not None}
    label = fig.label
    values: dict[str, float] = {}
    if fig.curve:
        curves = {mode: dict(pts) for mode, mx in found.items() if (pts := m.curve_points(mx.get(fig.metric)))}
        shared = set.intersection(*(set(c) for c in curves.values())) if curves else set()
        if not shared:
            return None
        k = max(shared)
        label = f"{label} (K = {k:g} Services)"
        values = {mode: c[k] * fig.scale for mode, c in curves.items()}
    else:
        values = {mode: float(mx[fig.metric]) * fig.scale for mode, mx in found.items()
                  if m.is_number(mx.get(fig.metric))}
    if not values:
        return None
    pick = max if fig.better == "higher" else min
    top = pick(values.values())
    best = frozenset(mode for mode, v in values.items() if v == top) if len(values) > 1 else frozenset()
    ordered = dict(sorted(values.items(), key=lambda kv: mode_key(kv[0])))
    return HeadlineRow(label, fig.unit, fig.better, ordered, best)


def table(runs: Sequence[ModeRun]) -> list[HeadlineRow]:
    """One row per figure that at least one mode measured in a passing test."""
    return [row for fig in FIGURES if (row := _row(fig, runs)) is not None]
