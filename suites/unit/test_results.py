from __future__ import annotations

import json
from pathlib import Path

from proxylab.results import SCHEMA_VERSION, ResultsWriter, RunMetadata, TestRecord, image_source, validate


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


def test_records_carry_their_metric_ids_and_both_schemas_validate(tmp_path: Path) -> None:
    w = ResultsWriter(tmp_path / "results.json", _meta())
    w.add(TestRecord("t::a[x]", "passed", metrics={"rps": 1.0}, metric_ids={"t.x.rps": "rps"}))
    doc = json.loads(w.path.read_text())
    assert doc["schema_version"] == 2 and doc["tests"][0]["metric_ids"] == {"t.x.rps": "rps"}
    assert validate(doc) == []
    doc["schema_version"] = 1  # written before metric ids: still read
    del doc["tests"][0]["metric_ids"]
    assert validate(doc) == []


def test_image_source_is_one_of_the_known_values() -> None:
    assert [image_source(s) for s in ("pull", "offline", "unknown", "", "auto")] == \
        ["pull", "offline", "unknown", "unknown", "unknown"]
