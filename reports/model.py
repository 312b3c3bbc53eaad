"""Everything one report shows, assembled from loaded results (pure; rendering is separate)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import differences, headline, history, performance, production, significance, upstream
from .aggregate import EnvRow, MatrixRow, ModeSummary, environment, matrix, mode_key, split_latest, summarise
from .chartspec import ChartSpec
from .load import ModeRun
from .performance import PerfSection


@dataclass
class ReportData:
    generated: str
    run_ids: list[str]
    modes: list[str]
    summaries: list[ModeSummary]
    headline: list[headline.HeadlineRow]
    differences: differences.Differences
    rows: list[MatrixRow]
    perf: PerfSection
    env: list[EnvRow]
    threshold: float
    upstream: upstream.UpstreamSection = field(default_factory=upstream.UpstreamSection)
    production: production.ProductionSection = field(default_factory=production.ProductionSection)
    history_runs: list[str] = field(default_factory=list)
    trends: list[ChartSpec] = field(default_factory=list)
    regressions: list[history.Regression] = field(default_factory=list)

    # the rule the report applies, stated in the page (one place: significance.py)
    alpha: float = significance.ALPHA
    cv_bound: float = significance.CV_BOUND
    method: str = significance.METHOD

    @property
    def charts(self) -> list[ChartSpec]:
        return self.perf.charts + self.trends

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.summaries)


def assemble(runs: Sequence[ModeRun], earlier: Sequence[ModeRun] = (), *, generated: str,
             threshold: float = history.DEFAULT_THRESHOLD) -> ReportData:
    """The newest run of each mode in ``runs`` is reported; older ones and ``earlier`` are history."""
    current, older = split_latest(runs)
    past = [*earlier, *older]
    everything = [*past, *current]
    run_order = history.run_order(everything)
    with_history = len(run_order) > 1
    rows = headline.table(current)
    return ReportData(
        generated=generated,
        run_ids=sorted({r.run_id for r in current}),
        modes=sorted({r.mode for r in current}, key=mode_key),
        summaries=[summarise(r) for r in current],
        headline=rows,
        differences=differences.differences(rows, current),
        rows=matrix(current),
        perf=performance.section(current),
        env=environment(current),
        threshold=threshold,
        upstream=upstream.section(current),
        production=production.section(current),
        history_runs=run_order if with_history else [],
        trends=history.charts(everything) if with_history else [],
        regressions=history.regressions(everything, threshold) if with_history else [],
    )
