"""Small synthetic results documents for the report's unit tests (not measurements)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.load import ModeRun, from_doc


def doc(mode: str, run_id: str = "r2", started: str = "2026-01-02T00:00:00Z", *,
        tests: list[dict[str, Any]] | None = None, status: str = "ran", reason: str = "",
        finished: str | None = "2026-01-02T00:10:00Z", up: float | None = 30.0) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "run": {"run_id": run_id, "mode": mode, "started": started, "finished": finished,
                "versions": {"kubernetes": "v1.34.4", "proxy": "kube-proxy v1.34.4"}, "images": "offline",
                "host": {"kernel": "6.18", "cpus": 2, "cgroups": "hybrid", "hostname": "h"},
                "git_commit": "abc123", "cluster": {"name": f"proxylab-{mode}", "up_seconds": up} if up else None,
                "mode_status": status, "mode_reason": reason},
        "tests": tests if tests is not None else [],
    }


def rec(nodeid: str, verdict: str = "passed", reason: str = "", **metrics: Any) -> dict[str, Any]:
    return {"id": nodeid, "verdict": verdict, "reason": reason, "duration": 1.5, "finished": "x", "metrics": metrics}


def run(d: dict[str, Any]) -> ModeRun:
    """A loaded run, validated as ``proxylab report`` validates a file."""
    return from_doc(Path(f"/r/{d['run']['run_id']}/{d['run']['mode']}/results.json"), d)
