"""The headline comparison: a short, curated table of the figures people compare modes by.

The performance section lists every metric of every test; this table picks the figures a reader
looks for first (Service overhead vs the pod-IP baseline, tail latency, failover, programming
latency and the data path at the largest number of Services, the proxy's own cost), gives them
plain labels, shows each mode's mean with its 95 % interval, and says which mode is better only
where the difference is statistically significant (``significance.py``: Welch's t-test on the
per-repeat values, alpha = 0.05; unreliable figures, CV > 10 %, are marked and not ranked).
Figures come from passing tests only (a failed test's numbers stay in its matrix cell). A figure
no mode measured, or whose test is absent, is left out; a mode that did not measure it shows a
dash.

Each figure is named by a metric id, which the test recording it declares in its own module
(``@records(MetricId(...))``) and results.json stores with its metrics: a test renamed keeps its
rows. ``suites/unit/test_metric_ids.py`` fails when an id used here is declared by no test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proxylab.results import Metrics

from . import metrics as m
from . import significance as sig
from . import sources
from .aggregate import mode_key
from .load import ModeRun
from .metrics import Better


@dataclass(frozen=True)
class Figure:
    """One headline figure, named by its metric id.

    ``id``: the stable id the recording test declares (``proxylab.results.MetricId``; found in
    results by ``sources.find``): a scalar, or a curve ``{K: value}`` when ``curve`` is set (the
    value at the largest K every reporting mode measured is shown, and the K goes into the label).
    Its repeat statistics are read from ``<metric>_stats`` (for a curve, ``{K: stats}``).
    ``scale`` converts the stored unit to the shown one (e.g. seconds to ms).
    """

    label: str
    id: str
    unit: str
    better: Better
    curve: bool = False
    scale: float = 1.0


FIGURES: tuple[Figure, ...] = (
    Figure("ClusterIP keep-alive throughput / pod-IP baseline", "throughput.keepalive.ratio_to_baseline", "x",
           "higher"),
    Figure("ClusterIP new-connection throughput / pod-IP baseline", "throughput.newconn.ratio_to_baseline", "x",
           "higher"),
    Figure("ClusterIP new-connection p99 latency", "throughput.newconn.p99_ms", "ms", "lower"),
    # the compiled closed-loop generator (wrk) on one backend: capacity rather than locust's ceiling
    Figure("ClusterIP keep-alive capacity / pod-IP baseline (wrk)", "datapath.keepalive.ratio_to_baseline", "x",
           "higher"),
    Figure("ClusterIP new-connection capacity / pod-IP baseline (wrk)", "datapath.newconn.ratio_to_baseline", "x",
           "higher"),
    Figure("kernel CPU per new connection (wrk)", "datapath.newconn.kernel_us_per_request", m.MICROSECONDS, "lower"),
    # Not "/ pod-IP baseline" at K: in iptables mode the pod-IP baseline is not proxy-free at scale (a
    # new connection to a pod IP walks all of KUBE-SERVICES without a match; measured: 6,633 -> 1,935
    # requests/s from 1,000 to 10,000 Services, worse than the ClusterIP's 0.40x), so that ratio
    # ranked iptables first for the wrong reason. Every mode's rate comes from the same setup (one
    # wrk pod on the first worker, one backend on the second) in the same run.
    Figure("many Services: new-connection throughput", "scale.newconn_rps", "requests/s", "higher", curve=True),
    Figure("many Services: new-connection throughput, largest K / smallest K", "scale.newconn_ratio_to_smallest_k",
           "x", "higher", curve=True),
    Figure("many Services: connect p99 latency", "scale.connect_p99_ms", "ms", "lower", curve=True),
    Figure("many Services: kernel CPU per new connection", "scale.kernel_cpu_us_per_request", m.MICROSECONDS,
           "lower", curve=True),
    Figure("failover, backend killed: victim out after", "failover.kill.victim_gone_s", "s", "lower"),
    # per repeat (mean), not errors_total: the test and the interval need the per-repeat values
    Figure("failover, backend killed: failed requests per repeat", "failover.kill.errors", "", "lower"),
    Figure("failover, backend unready: victim out after", "failover.unready.victim_gone_s", "s", "lower"),
    Figure("failover, backend drained: failed requests per repeat", "failover.drain.errors", "", "lower"),
    Figure("new Service: first success after", "programming.new_service.latency", "s", "lower", curve=True),
    Figure("new endpoint: first success after", "programming.new_endpoint.latency", "s", "lower", curve=True),
    Figure("first packet (TCP connect) p50", "programming.first_packet_latency", "ms", "lower", curve=True,
           scale=1000.0),
    Figure("proxy CPU while Services are created", "sweep.proxy_cpu_millicores", "millicores", "lower"),
    Figure("proxy memory after the Service sweep", "sweep.proxy_memory_mib", "MiB", "lower"),
)

# Curves whose change from the smallest to the largest K is tested within each mode ("Where the
# modes differ"). The *_ratio_to_smallest_k curves are left out (they are that change already), and
# so are the *_ratio_to_baseline ones (they mix the Service's change with the baseline's: in iptables
# mode the pod-IP baseline itself gets slower with K, see FIGURES).
# A curve recorded without repeat statistics (today connect_p99_ms, sync_seconds) is skipped quietly.
ALONG_K: tuple[Figure, ...] = (
    Figure("new-connection throughput", "scale.newconn_rps", "requests/s", "higher", curve=True),
    Figure("keep-alive throughput", "scale.keepalive_rps", "requests/s", "higher", curve=True),
    Figure("new-connection p99 latency under load", "scale.newconn_p99_ms", "ms", "lower", curve=True),
    Figure("connect p99 latency", "scale.connect_p99_ms", "ms", "lower", curve=True),
    Figure("kernel CPU per new connection", "scale.kernel_cpu_us_per_request", m.MICROSECONDS, "lower", curve=True),
    Figure("proxy sync time", "scale.sync_seconds", "s", "lower", curve=True),
    Figure("new Service programming latency", "programming.new_service.latency", "s", "lower", curve=True),
    Figure("new endpoint programming latency", "programming.new_endpoint.latency", "s", "lower", curve=True),
)


def fmt_k(k: float) -> str:
    """10000.0 -> ``10,000``."""
    return f"{k:,.0f}" if k == int(k) else f"{k:,g}"


@dataclass(frozen=True)
class HeadlineCell:
    """One mode's figure: the mean shown, its 95 % interval, n, and the unreliable mark (or "")."""

    value: float
    ci95: tuple[float, float] | None
    n: int
    unreliable: str


@dataclass(frozen=True)
class HeadlineRow:
    label: str
    unit: str
    better: Better
    cells: dict[str, HeadlineCell]  # mode -> cell, in mode order
    ranking: sig.Ranking
    k: float | None = None  # the K compared at, for a curve

    @property
    def values(self) -> dict[str, float]:
        return {mode: c.value for mode, c in self.cells.items()}

    @property
    def best(self) -> frozenset[str]:
        """The mode significantly better than every other (empty when no mode is)."""
        return self.ranking.best

    @property
    def winners(self) -> frozenset[str]:
        """Modes significantly better than at least one other."""
        return frozenset(c.winner for c in self.ranking.significant if c.winner)

    def verdict(self) -> str:
        return self.ranking.text()


def curve_at(mx: Metrics, metric: str) -> tuple[dict[float, float], dict[float, Any]]:
    """A curve's values and its stats, both keyed by K."""
    return dict(m.curve_points(mx.get(metric)) or []), m.curve_stats(m.stats_of(mx, metric))


def _cell(value: float, stats: Any, scale: float) -> tuple[HeadlineCell, sig.Sample | None]:
    s = sig.sample(stats)
    s = None if s is None else s.scaled(scale)
    ci = None if s is None else s.ci95
    return HeadlineCell(value * scale, ci, 0 if s is None else s.n, "" if s is None else s.unreliable), s


def _row(fig: Figure, runs: Sequence[ModeRun]) -> HeadlineRow | None:
    found = {r.mode: src for r in sorted(runs, key=lambda r: mode_key(r.mode))
             if (src := sources.find(r, fig.id)) is not None}
    label, k = fig.label, None
    points: dict[str, tuple[float, Any]] = {}  # mode -> (value, stats)
    if fig.curve:
        curves = {mode: c for mode, (mx, key) in found.items() if (c := curve_at(mx, key))[0]}
        shared = set.intersection(*(set(v) for v, _ in curves.values())) if curves else set()
        if not shared:
            return None
        k = max(shared)
        label = f"{label} (K = {fmt_k(k)} Services)"
        points = {mode: (values[k], stats.get(k)) for mode, (values, stats) in curves.items()}
    else:
        points = {mode: (float(mx[key]), m.stats_of(mx, key)) for mode, (mx, key) in found.items()
                  if m.is_number(mx.get(key))}
    if not points:
        return None
    cells, samples = {}, {}
    for mode, (value, stats) in points.items():
        cells[mode], samples[mode] = _cell(value, stats, fig.scale)
    return HeadlineRow(label, fig.unit, fig.better, cells, sig.rank(samples, fig.better), k)


def table(runs: Sequence[ModeRun]) -> list[HeadlineRow]:
    """One row per figure that at least one mode measured in a passing test."""
    return [row for fig in FIGURES if (row := _row(fig, runs)) is not None]
