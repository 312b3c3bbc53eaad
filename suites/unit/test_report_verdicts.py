"""`proxylab verdicts`: two runs compared test by test (synthetic documents, not measurements)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxylab import cli
from reports.verdicts import compare, describe

from .report_fixtures import doc, rec, run

SMOKE = "suites/conformance/test_smoke.py::test_refused"
LOAD = "suites/performance/test_load.py::test_load"
NEW = "suites/conformance/test_new.py::test_added"


def test_same_verdicts_agree_and_a_test_in_one_run_only_is_listed_not_changed() -> None:
    before = [run(doc("iptables", "a", tests=[rec(SMOKE), rec(LOAD, "skipped", "no ipvs")]))]
    after = [run(doc("iptables", "b", tests=[rec(SMOKE), rec(LOAD, "skipped", "other words"), rec(NEW)]))]
    c = compare(before, after)
    assert c.same and c.changed == [] and c.only_after == [("iptables", NEW)] and c.only_before == []
    assert c.agree == {"passed": 1, "skipped": 1, "ran": 1}  # "ran": the mode's status, compared as "(mode)"
    assert describe(c)[0].startswith("verdicts: 3 tests in both runs agree (1 passed, 1 ran, 1 skipped); 0 changed")


def test_a_changed_verdict_or_mode_status_is_reported_with_the_reason() -> None:
    before = [run(doc("iptables", "a", tests=[rec(SMOKE)])), run(doc("ebpf", "a", tests=[rec(SMOKE)]))]
    after = [run(doc("iptables", "b", tests=[rec(SMOKE, "failed", "refused after 3 s")])),
             run(doc("ebpf", "b", status="failed", reason="cluster did not come up"))]
    c = compare(before, after)
    assert not c.same
    assert [(ch.mode, ch.test, ch.before, ch.after) for ch in c.changed] == [
        ("ebpf", "(mode)", "ran", "failed"), ("iptables", SMOKE, "passed", "failed")]
    assert c.only_before == [("ebpf", SMOKE)]
    assert "CHANGED  iptables  " + SMOKE + ": passed -> failed (refused after 3 s)" in describe(c)


def test_a_mode_in_one_run_only_makes_the_runs_differ() -> None:
    c = compare([run(doc("iptables", "a", tests=[rec(SMOKE)]))],
                [run(doc("iptables", "b", tests=[rec(SMOKE)])), run(doc("nftables", "b", tests=[rec(SMOKE)]))])
    assert not c.same and "modes differ: before iptables; after iptables, nftables" in describe(c)


def _write(root: Path, d: dict[str, object]) -> None:
    path = root / d["run"]["mode"] / "results.json"  # type: ignore[index]
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(d))


def test_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "a", doc("iptables", "a", tests=[rec(SMOKE)]))
    _write(tmp_path / "b", doc("iptables", "b", tests=[rec(SMOKE)]))
    _write(tmp_path / "c", doc("iptables", "c", tests=[rec(SMOKE, "failed", "boom")]))
    assert cli.main(["verdicts", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert cli.main(["verdicts", str(tmp_path / "a"), str(tmp_path / "c")]) == 1
    assert "passed -> failed (boom)" in capsys.readouterr().out
    assert cli.main(["verdicts", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
