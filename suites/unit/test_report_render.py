from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import reports
from proxylab.perf.summary import summarize
from reports.model import assemble
from reports.render import html, markdown

from .report_fixtures import doc, rec, run

SMOKE = "suites/conformance/test_smoke.py::test_refused"
NEWCONN = "suites/performance/test_throughput.py::test_cluster_ip[newconn]"
SCALE = "suites/performance/test_programming.py::test_data_path_at_scale"


def _data() -> reports.ReportData:
    runs = [run(doc("iptables", tests=[rec(SMOKE, connect_ms=0.4)])),
            run(doc("ipvs", status="skipped", reason="CONFIG_IP_VS is not set <kernel>",
                    tests=[rec(SMOKE, "skipped", "CONFIG_IP_VS is not set")]))]
    return assemble(runs, generated="2026-01-02T00:00:00Z")


def test_html_is_self_contained_and_escapes_reasons() -> None:
    page = html(_data())
    assert "CONFIG_IP_VS is not set &lt;kernel&gt;" in page
    assert "No performance results in these runs." in page
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page), "the page must fetch nothing"
    assert "sourceMappingURL" not in page
    assert 'data-charts-expected="0"' in page
    specs = json.loads(re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert specs == []


def test_markdown_summary_has_modes_by_verdicts() -> None:
    md = markdown(_data())
    assert "| iptables | passed | 1 | 0 | 0 |" in md
    assert "| ipvs | skipped | 0 | 0 | 1 | CONFIG_IP_VS is not set <kernel> |" in md
    assert "no regression check" in md


def test_build_writes_the_page_and_appends_the_summary(tmp_path: Path) -> None:
    res = tmp_path / "r2" / "iptables" / "results.json"
    res.parent.mkdir(parents=True)
    res.write_text(json.dumps(doc("iptables", tests=[rec(SMOKE)])))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    out = tmp_path / "out" / "index.html"
    data = reports.build([tmp_path], out, markdown_summary=summary)
    assert data.ok and out.read_text().startswith("<!doctype html>")
    assert summary.read_text().startswith("earlier step\n## proxylab r2")


def _perf_data() -> reports.ReportData:
    def ratio(values: list[float]) -> dict[str, Any]:
        return {"ratio_to_baseline": sum(values) / len(values), "ratio_to_baseline_stats": summarize(values).as_metrics()}

    flat = {"1000": summarize([3000.0, 3020.0, 2990.0]).as_metrics(),
            "10000": summarize([2995.0, 3010.0, 3003.0]).as_metrics()}
    runs = [run(doc("iptables", tests=[rec(NEWCONN, **ratio([0.50, 0.51, 0.49]))])),
            run(doc("ebpf", tests=[rec(NEWCONN, **ratio([0.70, 0.71, 0.69])),
                                   rec(SCALE, newconn_rps={"1000": 3003.3, "10000": 3002.7}, newconn_rps_stats=flat,
                                       invalid_runs=["repeat 4: locust generator bound"])]))]
    return assemble(runs, generated="2026-01-02T00:00:00Z")


def test_the_report_states_the_rule_and_names_only_significant_differences() -> None:
    page = html(_perf_data())
    differ = page[page.index('id="differences"'):page.index('class="headline"')]
    assert "Welch&#39;s t-test" in differ and "p &lt; 0.05" in differ and "more than 10%" in differ
    assert "ebpf better (higher): 1.40\u00d7 iptables (Welch p &lt; 0.001)" in differ
    assert "No mode changed measurably from the smallest to the largest number of Services (1 curve tested)." in differ
    assert 'class="num best"' in page and "worse" not in page
    assert "repeat 4: locust generator bound" in page
    specs = json.loads(re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    [curve] = [c for c in specs if c["id"].startswith("curve-")]
    assert curve["datasets"][0]["interval"][0]["x"] == 1000.0


def test_markdown_summary_has_the_differences_and_the_verdicts() -> None:
    md = markdown(_perf_data())
    assert "**Where the modes differ** (Welch's t-test" in md
    assert "- ClusterIP new-connection throughput / pod-IP baseline: ebpf better (higher): 1.40\u00d7 iptables" in md
    row = next(line for line in md.splitlines() if line.startswith("| ClusterIP new-connection"))
    assert "**0.7** [" in row and row.endswith("(Welch p < 0.001) |")
    assert "- ebpf test_programming::test_data_path_at_scale: repeat 4: locust generator bound" in md
