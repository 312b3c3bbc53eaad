"""HTML comparison reports built from results.json files (never from a cluster).

``build`` is the entry point used by ``proxylab report`` and ``proxylab run``.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from proxylab.results import now_iso

from . import load, render
from .history import DEFAULT_THRESHOLD
from .load import ReportError
from .model import ReportData, assemble

__all__ = ["DEFAULT_THRESHOLD", "MAX_THRESHOLD", "ReportData", "build"]

MAX_THRESHOLD = 100.0  # 10,000 %: beyond it no change is a regression anyway


def build(results: Sequence[Path], out: Path, *, history: Sequence[Path] = (),
          threshold: float = DEFAULT_THRESHOLD, markdown_summary: Path | None = None) -> ReportData:
    """Read results (files or directories), write one self-contained HTML file, return its data.

    Everything is read, checked and rendered before anything is written; then the HTML goes to a
    temporary file beside ``out``, the Markdown summary is appended, and the HTML is renamed into
    place. A failure names the file and leaves no temporary file behind; when the summary cannot
    be written, no HTML is written either.
    """
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not math.isfinite(threshold) \
            or not 0 <= threshold <= MAX_THRESHOLD:
        raise ReportError(f"threshold must be a number 0..{MAX_THRESHOLD:g} (a fraction: 0.1 is 10%), got {threshold!r}")
    _check_output(out, "the report (-o)")
    if markdown_summary is not None:
        _check_output(markdown_summary, "the Markdown summary (--markdown-summary)")
    runs = load.load(results)
    current_paths = {r.path for r in runs}
    earlier = [r for r in load.load(history) if r.path not in current_paths] if history else []
    data = assemble(runs, earlier, generated=now_iso(), threshold=threshold)
    page = render.html(data)
    summary = render.markdown(data) if markdown_summary is not None else None
    tmp = _write_temp(out, page)
    try:
        if markdown_summary is not None and summary is not None:
            try:
                markdown_summary.parent.mkdir(parents=True, exist_ok=True)
                with markdown_summary.open("a", encoding="utf-8") as f:  # $GITHUB_STEP_SUMMARY is appended to
                    f.write(summary)
            except OSError as exc:
                raise ReportError(f"{markdown_summary}: cannot append the Markdown summary ({exc.strerror or exc}); "
                                  f"the report {out} was not written either") from None
        try:
            os.replace(tmp, out)
        except OSError as exc:
            done = f"; the Markdown summary was appended to {markdown_summary}" if markdown_summary else ""
            raise ReportError(f"{out}: cannot write the report ({exc.strerror or exc}){done}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return data


def _check_output(path: Path, what: str) -> None:
    """Refuse, before anything is written, an output path that cannot be a file."""
    if path.is_dir():
        raise ReportError(f"{path}: is a directory; {what} needs a file path, e.g. {path / 'index.html'}"
                          if what.startswith("the report") else f"{path}: is a directory; {what} needs a file path")
    existing = next((p for p in path.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ReportError(f"{path}: {existing} is a file, not a directory; give {what} another path")


def _write_temp(out: Path, text: str) -> Path:
    """``text`` in a new temporary file in ``out``'s directory (so the rename is atomic)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        raise ReportError(f"{out}: cannot write the report ({exc.strerror or exc})") from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a report is for reading
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReportError(f"{out}: cannot write the report ({exc.strerror or exc})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp
