"""Finding and reading results.json files; the only place the report touches the filesystem.

A report never talks to a cluster: everything it shows comes from the documents read here
(schema in ``proxylab/results.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxylab.errors import ProxylabError
from proxylab.results import validate

RESULTS_NAME = "results.json"


class ReportError(ProxylabError):
    """Results that cannot be reported on (missing, unreadable, wrong schema)."""


@dataclass(frozen=True)
class ModeRun:
    """One results.json: one mode of one run."""

    path: Path
    doc: dict[str, Any]

    @property
    def run(self) -> dict[str, Any]:
        run: dict[str, Any] = self.doc["run"]
        return run

    @property
    def run_id(self) -> str:
        return str(self.run["run_id"])

    @property
    def mode(self) -> str:
        return str(self.run["mode"])

    @property
    def tests(self) -> list[dict[str, Any]]:
        tests: list[dict[str, Any]] = self.doc.get("tests", [])
        return tests


def find_results(paths: Iterable[Path]) -> list[Path]:
    """results.json files named directly or found recursively under directories, sorted, unique."""
    found: set[Path] = set()
    for p in paths:
        if p.is_file():
            found.add(p.resolve())
        elif p.is_dir():
            found.update(f.resolve() for f in p.rglob(RESULTS_NAME))
        else:
            raise ReportError(f"{p} does not exist; pass results.json files or the directories holding them "
                              f"(e.g. results/<run-id>)")
    if not found:
        raise ReportError("no results.json found under " + ", ".join(str(p) for p in paths)
                          + "; run `proxylab run` first, or point at its --results-dir")
    return sorted(found)


def parse(path: Path, text: str) -> ModeRun:
    """A validated ModeRun from a file's text; the error names the file and every problem."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is not JSON ({exc}); was the run killed while writing? "
                          f"delete the file or rerun that mode") from None
    problems = validate(doc) if isinstance(doc, dict) else ["not a JSON object"]
    if problems:
        raise ReportError(f"{path} is not a results.json proxylab can read: " + "; ".join(problems))
    return ModeRun(path=path, doc=doc)


def load(paths: Iterable[Path]) -> list[ModeRun]:
    return [parse(p, p.read_text()) for p in find_results(paths)]
