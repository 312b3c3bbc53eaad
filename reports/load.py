"""Finding and reading results.json files; the only place the report touches the filesystem.

A report never talks to a cluster: everything it shows comes from the documents read here
(schema in ``proxylab/results.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from proxylab.errors import ProxylabError
from proxylab.results import InvalidResults, RecordDoc, ResultsDoc, RunDoc, checked

RESULTS_NAME = "results.json"


class ReportError(ProxylabError):
    """Results that cannot be reported on (missing, unreadable, wrong schema): one line naming the
    file and the field."""

    def __init__(self, message: str) -> None:
        # One printable line whatever a file name or value holds (newlines, undecodable bytes).
        super().__init__(message.replace("\n", "\\n").encode("utf-8", "backslashreplace").decode("utf-8"))


@dataclass(frozen=True)
class ModeRun:
    """One results.json: one mode of one run."""

    path: Path
    doc: ResultsDoc

    @property
    def schema_version(self) -> int:
        return self.doc["schema_version"]

    @property
    def run(self) -> RunDoc:
        return self.doc["run"]

    @property
    def run_id(self) -> str:
        return str(self.run["run_id"])

    @property
    def mode(self) -> str:
        return str(self.run["mode"])

    @property
    def tests(self) -> list[RecordDoc]:
        return self.doc.get("tests", [])


def display(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter messages)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def find_results(paths: Iterable[Path]) -> list[Path]:
    """results.json files named directly or found recursively under directories, sorted, unique."""
    found: set[Path] = set()
    paths = list(paths)
    for p in paths:
        if p.is_file():
            found.add(p.resolve())
        elif p.is_dir() and p.name == RESULTS_NAME:
            raise ReportError(f"{p}: is a directory, not a results file; pass the directory that holds "
                              "<mode>/results.json files, or remove it")
        elif p.is_dir():
            for f in p.rglob(RESULTS_NAME):
                if not f.is_file():
                    raise ReportError(f"{display(f)}: is not a regular file (a directory named {RESULTS_NAME}?); "
                                      "remove or rename it")
                found.add(f.resolve())
        else:
            raise ReportError(f"{p} does not exist; pass results.json files or the directories holding them "
                              f"(e.g. results/<run-id>)")
    if not found:
        raise ReportError("no results.json found under " + ", ".join(str(p) for p in paths)
                          + "; run `proxylab run` first, or point at its --results-dir")
    return sorted(found)


def parse(path: Path, text: str) -> ModeRun:
    """A validated ModeRun from a file's text; the error is one line naming the file and the field."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ReportError(f"{display(path)}: nested too deeply to be a results.json") from None
    except ValueError as exc:  # JSONDecodeError; also integers longer than Python's digit limit
        raise ReportError(f"{display(path)}: is not JSON ({exc}); was the run killed while writing? "
                          f"delete the file or rerun that mode") from None
    return from_doc(path, doc)


def from_doc(path: Path, doc: object) -> ModeRun:
    """A ModeRun from a parsed JSON value, validated; the error is one line naming the file and the field."""
    try:
        return ModeRun(path=path, doc=checked(doc))
    except InvalidResults as exc:
        problems = exc.problems
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise ReportError(f"{display(path)}: " + "; ".join(problems[:3]) + more) from None


def read(path: Path) -> ModeRun:
    """One results file: unreadable or non-UTF-8 files give a ReportError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"{display(path)}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"{display(path)}: is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
                          "a results.json is JSON written by proxylab: delete the file or rerun that mode") from None
    return parse(path, text)


def load(paths: Iterable[Path]) -> list[ModeRun]:
    return [read(p) for p in find_results(paths)]
