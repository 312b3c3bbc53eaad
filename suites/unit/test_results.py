from __future__ import annotations

import json
from pathlib import Path

from proxylab.results import SCHEMA_VERSION, ResultsWriter, RunMetadata, TestRecord, validate


def _meta() -> RunMetadata:
    return RunMetadata(run_id="r1", mode="iptables", versions={"kubernetes": "v1.34.4"}, images="offline",
                       host={"kernel": "6", "cpus": 2}, git_commit=None)


def test_writer_persists_after_every_record(tmp_path: Path) -> None:
    path = tmp_path / "r1" / "iptables" / "results.json"
    w = ResultsWriter(path, _meta())
    assert json.loads(path.read_text())["tests"] == []
    w.add(TestRecord("t::a", "passed", metrics={"p": 0.5}))
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["tests"][0]["metrics"] == {"p": 0.5}
    assert doc["run"]["finished"] is None, "a run still in progress has no finish time"
    w.add(TestRecord("t::a", "failed", reason="again"))
    assert [t["verdict"] for t in json.loads(path.read_text())["tests"]] == ["failed"]
    w.finish()
    assert json.loads(path.read_text())["run"]["finished"]
    assert validate(json.loads(path.read_text())) == []
    assert not list(path.parent.glob("*.tmp")), "temporary file left behind"


def test_validate_names_the_problems() -> None:
    problems = validate({"schema_version": 0, "run": {}, "tests": [{"verdict": "maybe", "metrics": []}]})
    assert any("schema_version" in p for p in problems)
    assert any(p.startswith("run.mode: missing") for p in problems)
    assert any("verdict" in p for p in problems)
    assert any("metrics" in p for p in problems)


def test_an_interrupted_sessions_results_are_kept_aside_a_finished_one_is_not(tmp_path: Path) -> None:
    from proxylab.results import keep_interrupted

    path = tmp_path / "results.json"
    assert keep_interrupted(path) is None
    path.write_text(json.dumps({"run": {"finished": None}, "tests": [{"id": "t1"}]}))
    first = keep_interrupted(path)
    assert first == tmp_path / "results.interrupted-1.json" and not path.exists()
    assert json.loads(first.read_text())["tests"] == [{"id": "t1"}]
    path.write_text("not json")
    assert keep_interrupted(path) == tmp_path / "results.interrupted-2.json"
    path.write_text(json.dumps({"run": {"finished": "2026-11-30T00:00:00Z"}, "tests": []}))
    assert keep_interrupted(path) is None and path.exists()
