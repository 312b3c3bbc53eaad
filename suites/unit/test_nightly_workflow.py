"""The nightly history stays flat and bounded: results-all never contains history/ (issue 12)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

NIGHTLY = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "nightly.yml"


def _steps() -> list[dict[str, Any]]:
    doc = yaml.safe_load(NIGHTLY.read_text())
    steps: list[dict[str, Any]] = doc["jobs"]["report"]["steps"]
    return steps


def _upload(name: str) -> dict[str, Any]:
    return next(s for s in _steps() if str(s.get("uses", "")).startswith("actions/upload-artifact")
                and s["with"]["name"] == name)


def test_results_all_uploads_one_flat_directory_without_history() -> None:
    paths = [p.strip() for p in str(_upload("results-all")["with"]["path"]).splitlines() if p.strip()]
    assert paths == ["results-all/"], paths
    assert not any("history" in p for p in paths)
    history = next(s for s in _steps() if "gh run download" in str(s.get("run", "")))
    assert "--name results-all --dir history" in history["run"], "history is what results-all held"


def _assemble_step() -> str:
    step = next(s for s in _steps() if s.get("shell") == "python" and "results-all" in s.get("run", ""))
    run: str = step["run"]
    return run


def _result(root: Path, run_id: str, mode: str, started: str) -> None:
    p = root / run_id / mode / "results.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"run": {"run_id": run_id, "mode": mode, "started": started}}))


def test_the_assembly_flattens_nested_history_and_keeps_the_newest_runs(tmp_path: Path) -> None:
    _result(tmp_path / "results", "nightly-100", "iptables", "2026-03-01T02:00:00Z")
    # An artifact of the old layout: results/ and history/ side by side, history nested inside.
    _result(tmp_path / "history" / "results", "nightly-99", "ipvs", "2026-02-28T02:00:00Z")
    _result(tmp_path / "history" / "history" / "results", "nightly-98", "ipvs", "2026-02-27T02:00:00Z")
    # ... and many flat runs of the new layout, more than are kept.
    for day in range(1, 40):
        _result(tmp_path / "history", f"nightly-{day}", "iptables", f"2026-01-{day:02d}T02:00:00Z"
                if day <= 31 else f"2026-02-{day - 31:02d}T02:00:00Z")
    script = tmp_path / "assemble.py"
    script.write_text(_assemble_step())
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "results-all"
    runs = sorted(p.name for p in out.iterdir())
    assert "history" not in runs and "results" not in runs, runs
    assert len(runs) == 30, "this run and the 29 newest earlier ones"
    assert {"nightly-100", "nightly-99", "nightly-98", "nightly-39"} <= set(runs)
    assert "nightly-1" not in runs, "the oldest run is dropped"
    assert all(p.relative_to(out).parts[2:] == ("results.json",) for p in out.rglob("results.json")), \
        "every result at <run-id>/<mode>/results.json"
    # Tomorrow's assembly from today's artifact stays just as flat.
    (tmp_path / "results-all").rename(tmp_path / "next-history")
    for old in ("history", "results"):
        shutil.rmtree(tmp_path / old)
    (tmp_path / "next-history").rename(tmp_path / "history")
    _result(tmp_path / "results", "nightly-101", "iptables", "2026-03-02T02:00:00Z")
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert max(len(p.relative_to(out).parts) for p in out.rglob("*")) == 3, "no nesting, ever"
    assert len(list(out.iterdir())) == 30
