"""The report's upstream section: counts per mode, times, and the behaviour map's disagreements."""

from __future__ import annotations

from proxylab.upstream.behaviours import BEHAVIOURS, upstream_record_id
from reports.load import ModeRun
from reports.model import assemble
from reports.render import html, markdown
from reports.upstream import RUN_TEST, section

from .report_fixtures import doc, rec, run

HAIRPIN = next(b for b in BEHAVIOURS if b.name.startswith("hairpin"))
REJECT = next(b for b in BEHAVIOURS if b.name.startswith("no endpoints"))
OURS_HAIRPIN = f"suites/conformance/test_dns_and_reachability.py::{HAIRPIN.proxylab[0]}"
OURS_REJECT = f"suites/conformance/test_smoke.py::{REJECT.proxylab[0]}"


def _runs() -> list[ModeRun]:
    iptables = [rec(OURS_HAIRPIN), rec(OURS_REJECT), rec(upstream_record_id(HAIRPIN.upstream[0])),
                rec(upstream_record_id(REJECT.upstream[0])), rec(RUN_TEST, wall_seconds=580.2),
                rec(upstream_record_id("should-work-after-restarting-kube-proxy"), "skipped", "[Disruptive]: ...")]
    ebpf = [rec(OURS_HAIRPIN, "failed", "[call] hairpin timed out"),
            rec(OURS_REJECT, "skipped", "expected failure, known ebpf difference: EHOSTUNREACH"),
            rec(upstream_record_id(HAIRPIN.upstream[0])),
            rec(upstream_record_id(REJECT.upstream[0]), "skipped", "expected failure, known ebpf difference: x"),
            rec(RUN_TEST, wall_seconds=436.0)]
    return [run(doc("iptables", tests=iptables)), run(doc("ebpf", tests=ebpf))]


def test_counts_and_times_per_mode() -> None:
    s = section(_runs())
    ipt, ebpf = s.counts["iptables"], s.counts["ebpf"]
    assert (ipt.passed, ipt.failed, ipt.known, ipt.skipped) == (2, 0, 0, 1)
    assert (ebpf.passed, ebpf.failed, ebpf.known, ebpf.skipped) == (1, 0, 1, 0)
    assert ipt.wall_seconds == 580.2 and ipt.conformance_seconds == 3.0  # two proxylab tests of 1.5 s


def test_a_disagreement_is_marked_and_a_shared_known_difference_is_not() -> None:
    s = section(_runs())
    rows = {r.behaviour.name: r for r in s.rows}
    assert rows[HAIRPIN.name].verdicts["ebpf"] == ("pass", "fail")
    assert rows[HAIRPIN.name].disagree == ["ebpf"]
    assert rows[REJECT.name].verdicts["ebpf"] == ("fail", "fail") and not rows[REJECT.name].disagree
    assert s.disagreements == [(HAIRPIN.name, "ebpf")]


def test_page_and_summary_show_the_section() -> None:
    data = assemble(_runs(), generated="2026-01-02T00:00:00Z")
    page, md = html(data), markdown(data)
    assert 'id="upstream"' in page and "Behaviour map" in page and "disagree" in page
    assert "upstream e2e specs (s, ginkgo wall time)" in page
    assert "| iptables | 2 | 0 | 0 | 1 | 580.2 |" in md
    assert f"upstream and proxylab disagree on **{HAIRPIN.name}**" in md


def test_no_upstream_records_no_section() -> None:
    data = assemble([run(doc("iptables", tests=[rec(OURS_HAIRPIN)]))], generated="x")
    assert data.upstream.empty
    assert "No upstream specs in these results" in html(data)
    assert "Upstream e2e" not in markdown(data)
