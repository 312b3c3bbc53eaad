"""The upstream section: Kubernetes' own Services specs per mode, and the behaviour map that puts
their verdicts beside proxylab's on the same behaviour (pure; the map is proxylab/upstream/behaviours.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from proxylab.results import is_known_difference
from proxylab.upstream.behaviours import UPSTREAM_TEST, Behaviour, SideVerdict, rows_for

from .load import ModeRun

RUN_TEST = "suites/upstream/test_upstream.py::test_upstream_run"


@dataclass(frozen=True)
class ModeCounts:
    passed: int
    failed: int
    known: int  # expected failures that showed: the mode's recorded known differences
    skipped: int
    wall_seconds: float | None  # ginkgo's wall time for the specs it ran
    conformance_seconds: float | None  # proxylab's conformance suite on the same cluster (sum of test durations)


@dataclass(frozen=True)
class MapRow:
    behaviour: Behaviour
    verdicts: dict[str, tuple[SideVerdict, SideVerdict]]  # mode -> (upstream, proxylab)
    disagree: list[str]  # modes where one side passes and the other fails

    @property
    def coverage(self) -> str:
        return self.behaviour.coverage


@dataclass
class UpstreamSection:
    counts: dict[str, ModeCounts] = field(default_factory=dict)
    rows: list[MapRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.counts

    @property
    def disagreements(self) -> list[tuple[str, str]]:
        """(behaviour, mode) of every disagreement."""
        return [(row.behaviour.name, mode) for row in self.rows for mode in row.disagree]


def upstream_seconds(run: ModeRun) -> float | None:
    record = next((t for t in run.tests if t["id"] == RUN_TEST), None)
    value = record.get("metrics", {}).get("wall_seconds") if record else None
    return float(value) if isinstance(value, int | float) else None


def conformance_seconds(run: ModeRun) -> float | None:
    durations = [float(t.get("duration", 0.0)) for t in run.tests if t["id"].startswith("suites/conformance/")]
    return round(sum(durations), 1) if durations else None


def _counts(run: ModeRun) -> ModeCounts | None:
    specs = [t for t in run.tests if t["id"].startswith(UPSTREAM_TEST + "[")]
    if not specs:
        return None
    known = sum(1 for t in specs if is_known_difference(t))
    return ModeCounts(passed=sum(1 for t in specs if t["verdict"] == "passed"),
                      failed=sum(1 for t in specs if t["verdict"] == "failed"), known=known,
                      skipped=sum(1 for t in specs if t["verdict"] == "skipped") - known,
                      wall_seconds=upstream_seconds(run), conformance_seconds=conformance_seconds(run))


def section(runs: Sequence[ModeRun]) -> UpstreamSection:
    """Counts per mode that ran upstream specs, and the behaviour map over those modes."""
    out = UpstreamSection()
    ran = []
    for run in runs:
        counts = _counts(run)
        if counts is not None:
            out.counts[run.mode] = counts
            ran.append(run)
    if not ran:
        return out
    per_mode = {r.mode: rows_for(r.tests) for r in ran}
    for i, row in enumerate(next(iter(per_mode.values()))):
        verdicts = {mode: (rows[i].upstream, rows[i].proxylab) for mode, rows in per_mode.items()}
        out.rows.append(MapRow(row.behaviour, verdicts,
                               [mode for mode, rows in per_mode.items() if rows[i].disagreement]))
    return out
