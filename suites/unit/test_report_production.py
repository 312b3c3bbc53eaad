"""The report's production-behaviours section: per scenario, each mode's verdict and scalar figures."""

from __future__ import annotations

from reports.load import ModeRun
from reports.model import assemble
from reports.production import section
from reports.render import html, markdown

from .report_fixtures import doc, rec, run

RESTART = "suites/production/test_proxy_restart.py::test_proxy_restart_under_load[client-node]"


def _runs() -> list[ModeRun]:
    iptables = [rec(RESTART, longest_gap_s=0.4, failed_requests=0, long_lived_survived=True,
                    samples=[[1, "p"]], note="x" * 200),
                rec("suites/conformance/test_smoke.py::test_x")]
    ebpf = [rec(RESTART, "failed", "traffic did not recover within 30 s", longest_gap_s=31.0, failed_requests=12)]
    return [run(doc("iptables", tests=iptables)), run(doc("ebpf", tests=ebpf))]


def test_scenarios_show_verdicts_and_scalar_figures_per_mode() -> None:
    s = section(_runs())
    assert [sc.name for sc in s.scenarios] == ["test_proxy_restart.py::test_proxy_restart_under_load[client-node]"]
    sc = s.scenarios[0]
    assert sc.verdicts == {"iptables": "passed", "ebpf": "failed"}
    assert sc.reasons == {"ebpf": "traffic did not recover within 30 s"}
    figures = dict(sc.figures)
    assert figures["longest_gap_s"] == {"iptables": 0.4, "ebpf": 31.0}
    assert figures["long_lived_survived"] == {"iptables": True}
    assert "samples" not in figures and "note" not in figures  # detail stays in results.json


def test_section_renders_in_html_and_markdown() -> None:
    data = assemble(_runs(), generated="2026-01-02T00:00:00Z")
    page = html(data)
    assert 'id="production"' in page and "longest_gap_s" in page and "traffic did not recover" in page
    md = markdown(data)
    assert "**Production behaviours**" in md
    assert "| test_proxy_restart.py::test_proxy_restart_under_load[client-node] | failed | passed |" in md \
        or "| test_proxy_restart.py::test_proxy_restart_under_load[client-node] | passed | failed |" in md


def test_no_production_results_says_so() -> None:
    data = assemble([run(doc("iptables", tests=[rec("suites/conformance/test_smoke.py::test_x")]))],
                    generated="2026-01-02T00:00:00Z")
    assert "No production-behaviour scenarios" in html(data) and "Production behaviours" not in markdown(data)
