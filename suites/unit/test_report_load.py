from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.load import ReportError, find_results, load, parse

from .report_fixtures import doc


def test_directories_are_searched_recursively_and_files_taken_as_given(tmp_path: Path) -> None:
    for mode in ("iptables", "nftables"):
        p = tmp_path / "r1" / mode / "results.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps(doc(mode, "r1")))
    single = tmp_path / "r1" / "iptables" / "results.json"
    found = find_results([tmp_path, single])
    assert [p.parent.name for p in found] == ["iptables", "nftables"], "unique and sorted"
    assert [r.mode for r in load([tmp_path])] == ["iptables", "nftables"]


def test_missing_path_and_empty_directory_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="does not exist"):
        find_results([tmp_path / "nope"])
    with pytest.raises(ReportError, match="proxylab run"):
        find_results([tmp_path])


def test_broken_documents_name_the_file_and_the_problem() -> None:
    with pytest.raises(ReportError, match=r"x\.json: is not JSON"):
        parse(Path("x.json"), '{"schema_version": 1, "run"')
    with pytest.raises(ReportError, match="schema_version"):
        parse(Path("x.json"), json.dumps({"schema_version": 9, "run": {}, "tests": []}))
