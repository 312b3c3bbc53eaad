"""HTML comparison reports built from results.json files (never from a cluster).

``build`` is the entry point used by ``proxylab report`` and ``proxylab run``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from proxylab.results import now_iso

from . import load, render
from .history import DEFAULT_THRESHOLD
from .model import ReportData, assemble

__all__ = ["DEFAULT_THRESHOLD", "ReportData", "build"]


def build(results: Sequence[Path], out: Path, *, history: Sequence[Path] = (),
          threshold: float = DEFAULT_THRESHOLD, markdown_summary: Path | None = None) -> ReportData:
    """Read results (files or directories), write one self-contained HTML file, return its data."""
    runs = load.load(results)
    current_paths = {r.path for r in runs}
    earlier = [r for r in load.load(history) if r.path not in current_paths] if history else []
    data = assemble(runs, earlier, generated=now_iso(), threshold=threshold)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(render.html(data), encoding="utf-8")
    tmp.replace(out)
    if markdown_summary is not None:
        markdown_summary.parent.mkdir(parents=True, exist_ok=True)
        with markdown_summary.open("a", encoding="utf-8") as f:  # $GITHUB_STEP_SUMMARY is appended to
            f.write(render.markdown(data))
    return data
