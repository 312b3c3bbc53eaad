from __future__ import annotations

import json
import re
from pathlib import Path

import reports
from reports.model import assemble
from reports.render import html, markdown

from .report_fixtures import doc, rec, run

SMOKE = "suites/conformance/test_smoke.py::test_refused"


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
