"""Summary, conformance matrix and environment from loaded results: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from proxylab.modes import all_modes
from proxylab.results import Metrics, ModeStatus, Verdict

from .load import ModeRun
from .upstream import conformance_seconds, upstream_seconds

_ORDER = [m.value for m in all_modes()]
SummaryStatus = ModeStatus | Literal["incomplete"]  # incomplete: ran, but no finish time


def mode_key(mode: str) -> tuple[int, str]:
    """Canonical mode order (the registry's: iptables, nftables, ipvs, ebpf, ...), unknown modes after, by name."""
    return (_ORDER.index(mode) if mode in _ORDER else len(_ORDER), mode)


def run_key(run: ModeRun) -> tuple[str, str]:
    return (str(run.run.get("started", "")), run.run_id)


def split_latest(runs: Iterable[ModeRun]) -> tuple[list[ModeRun], list[ModeRun]]:
    """(the newest run of each mode, in mode order; every older one). The older ones are history."""
    ordered = sorted(runs, key=run_key)
    latest: dict[str, ModeRun] = {}
    for r in ordered:
        latest[r.mode] = r
    current = sorted(latest.values(), key=lambda r: mode_key(r.mode))
    chosen = {id(r) for r in current}
    return current, [r for r in ordered if id(r) not in chosen]


def short_test_id(nodeid: str) -> str:
    """``suites/conformance/test_smoke.py::test_x[a]`` -> ``test_smoke::test_x[a]``."""
    path, _, name = nodeid.partition("::")
    stem = path.rsplit("/", 1)[-1].removesuffix(".py")
    return f"{stem}::{name}" if name else stem


def suite_of(nodeid: str) -> str:
    """The suite a test belongs to (``conformance``), from its node id."""
    parts = nodeid.split("::", 1)[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "suites" else parts[0]


@dataclass(frozen=True)
class ModeSummary:
    mode: str
    run_id: str
    status: SummaryStatus
    reason: str
    passed: int
    failed: int
    skipped: int
    started: str
    finished: str | None
    cluster_up_seconds: float | None

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped

    @property
    def ok(self) -> bool:
        return self.status in ("ran", "skipped") and self.failed == 0


def summarise(run: ModeRun) -> ModeSummary:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for t in run.tests:
        counts[t["verdict"]] += 1
    status: SummaryStatus = run.run.get("mode_status", "ran")
    if status == "ran" and not run.run.get("finished"):
        status = "incomplete"  # interrupted, or still running when the report was built
    cluster = run.run.get("cluster") or {}
    return ModeSummary(mode=run.mode, run_id=run.run_id, status=status, reason=str(run.run.get("mode_reason", "")),
                       started=str(run.run.get("started", "")), finished=run.run.get("finished"),
                       cluster_up_seconds=cluster.get("up_seconds"), **counts)


@dataclass(frozen=True)
class Cell:
    verdict: Verdict
    reason: str
    duration: float
    metrics: Metrics


@dataclass
class MatrixRow:
    test_id: str
    label: str
    group: str
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def consistent(self) -> bool:
        """Every mode that ran the test gave the same verdict."""
        return len({c.verdict for c in self.cells.values()}) <= 1


def matrix(runs: Sequence[ModeRun]) -> list[MatrixRow]:
    """One row per test id (first-seen order within each suite), one cell per mode that recorded it."""
    rows: dict[str, MatrixRow] = {}
    for r in runs:
        for t in r.tests:
            row = rows.setdefault(t["id"], MatrixRow(t["id"], short_test_id(t["id"]), suite_of(t["id"])))
            row.cells[r.mode] = Cell(t["verdict"], str(t.get("reason", "")), float(t.get("duration", 0.0)),
                                     dict(t.get("metrics", {})))
    return sorted(rows.values(), key=lambda row: row.group)  # stable: keeps test order inside a suite


@dataclass(frozen=True)
class EnvRow:
    label: str
    values: dict[str, str]

    @property
    def same(self) -> bool:
        return len(set(self.values.values())) <= 1


def environment(runs: Sequence[ModeRun]) -> list[EnvRow]:
    """What each mode ran on and with: versions, host, commit, dates, how images were obtained."""
    def rows_for(r: ModeRun) -> dict[str, str]:
        run = r.run
        host = run.get("host", {})
        cluster = run.get("cluster") or {}
        out = {"run id": r.run_id, "images": {"pull": "pulled", "offline": "built offline"}.get(
            str(run.get("images")), str(run.get("images", "unknown")))}
        out |= {f"version: {k}": str(v) for k, v in run.get("versions", {}).items()}
        out |= {"kernel": str(host.get("kernel", "")), "CPUs": str(host.get("cpus", "")),
                "cgroups": str(host.get("cgroups", "")), "host": str(host.get("hostname", "")),
                "git commit": str(run.get("git_commit") or "unknown")[:12],
                "started": str(run.get("started", "")), "finished": str(run.get("finished") or "not finished"),
                "cluster": str(cluster.get("name", "none")),
                "cluster up (s)": str(cluster.get("up_seconds", "")) if cluster else ""}
        # The two conformance suites' cost on the same cluster (the upstream section explains them).
        ours, theirs = conformance_seconds(r), upstream_seconds(r)
        if ours is not None:
            out["proxylab conformance suite (s, sum of tests)"] = f"{ours:g}"
        if theirs is not None:
            out["upstream e2e specs (s, ginkgo wall time)"] = f"{theirs:g}"
        return out

    per_mode = {r.mode: rows_for(r) for r in runs}
    labels: list[str] = []
    for values in per_mode.values():
        labels += [k for k in values if k not in labels]
    return [EnvRow(label, {m: v.get(label, "") for m, v in per_mode.items()}) for label in labels]
