from __future__ import annotations

from reports.aggregate import environment, matrix, short_test_id, split_latest, suite_of, summarise

from .report_fixtures import doc, rec, run

SMOKE = "suites/conformance/test_smoke.py::test_dns[short]"
REFUSE = "suites/conformance/test_smoke.py::test_refused"


def test_test_ids_are_shortened_and_grouped_by_suite() -> None:
    assert short_test_id(SMOKE) == "test_smoke::test_dns[short]"
    assert suite_of(SMOKE) == "conformance"


def test_summary_counts_verdicts_and_keeps_the_skip_reason() -> None:
    s = summarise(run(doc("iptables", tests=[rec(SMOKE), rec(REFUSE, "failed", "boom")])))
    assert (s.status, s.passed, s.failed, s.skipped, s.ok) == ("ran", 1, 1, 0, False)
    skipped = summarise(run(doc("ipvs", status="skipped", reason="CONFIG_IP_VS is not set",
                                tests=[rec(SMOKE, "skipped", "CONFIG_IP_VS is not set")])))
    assert (skipped.status, skipped.skipped, skipped.ok) == ("skipped", 1, True)
    assert skipped.reason == "CONFIG_IP_VS is not set"


def test_an_unfinished_run_is_incomplete_not_green() -> None:
    s = summarise(run(doc("nftables", finished=None, tests=[rec(SMOKE)])))
    assert s.status == "incomplete" and not s.ok


def test_newest_run_of_each_mode_is_current_the_rest_is_history() -> None:
    old = run(doc("iptables", "r1", "2026-01-01T00:00:00Z"))
    new = run(doc("iptables", "r2", "2026-01-02T00:00:00Z"))
    nft = run(doc("nftables", "r1", "2026-01-01T00:05:00Z"))
    current, older = split_latest([new, nft, old])
    assert [(r.mode, r.run_id) for r in current] == [("iptables", "r2"), ("nftables", "r1")]
    assert older == [old]


def test_matrix_has_a_cell_per_mode_that_recorded_the_test() -> None:
    rows = matrix([run(doc("iptables", tests=[rec(SMOKE, connect_ms=0.4), rec(REFUSE)])),
                   run(doc("nftables", tests=[rec(SMOKE, "failed", "[call] timeout")]))])
    assert [r.label for r in rows] == ["test_smoke::test_dns[short]", "test_smoke::test_refused"]
    smoke, refuse = rows
    assert smoke.cells["iptables"].metrics == {"connect_ms": 0.4}
    assert smoke.cells["nftables"].reason == "[call] timeout"
    assert not smoke.consistent
    assert "nftables" not in refuse.cells


def test_environment_rows_show_per_mode_values_and_how_images_were_obtained() -> None:
    rows = {r.label: r for r in environment([run(doc("iptables")), run(doc("nftables", up=41.0))])}
    assert rows["images"].values == {"iptables": "built offline", "nftables": "built offline"}
    assert rows["version: kubernetes"].same
    assert not rows["cluster up (s)"].same
    assert rows["CPUs"].values["iptables"] == "2"
