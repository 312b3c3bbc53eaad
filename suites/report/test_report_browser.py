"""The HTML report in a real headless Chromium: no console error, no network request, and every
chart actually painted (the page counts charts whose canvas has pixels in data-charts-rendered).

The results fed in are small synthetic documents built here, one of every kind the report charts
(run ids say ``synthetic``); they test the report, they are not measurements. A screenshot of each
page is left in the test's tmp directory (path printed) for a person to look at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import reports
from reports.aggregate import mode_key

from .cdp import open_page

LOAD = "suites/performance/test_throughput.py::test_cluster_ip[keepalive]"
SMOKE = "suites/conformance/test_smoke.py::test_service_without_endpoints_refuses_within_one_second"
DNS = "suites/conformance/test_smoke.py::test_service_dns_name_resolves_to_cluster_ip[short]"


def _doc(mode: str, run_id: str, started: str, tests: list[dict[str, Any]], **run: Any) -> dict[str, Any]:
    return {"schema_version": 1, "run": {
        "run_id": run_id, "mode": mode, "started": started, "finished": started.replace("T00", "T01"),
        "versions": {"kubernetes": "v1.34.4", "kind": "v0.33.0", "proxy": "kube-proxy v1.34.4"}, "images": "offline",
        "host": {"kernel": "6.18", "cpus": 2, "cgroups": "hybrid", "hostname": "synthetic"}, "git_commit": "0" * 40,
        "cluster": {"name": f"proxylab-{mode}", "up_seconds": 30.0}, "mode_status": "ran", "mode_reason": ""} | run,
        "tests": tests}


def _t(nodeid: str, verdict: str = "passed", reason: str = "", **metrics: Any) -> dict[str, Any]:
    return {"id": nodeid, "verdict": verdict, "reason": reason, "duration": 2.0, "finished": "", "metrics": metrics}


def _perf(scale: float) -> dict[str, Any]:
    return {"rps": 1000 * scale, "p50_ms": 1.2 / scale, "p95_ms": 3.0 / scale, "p99_ms": 6.0 / scale,
            "ratio_to_baseline": 0.9 * scale, "timeline": [[t / 2, 1.0 if t < 4 or t > 8 else 0.6] for t in range(14)],
            "programming_latency": {"10": 0.2 / scale, "100": 0.5 / scale, "1000": 3.0 / scale}}


def _write(root: Path, run_id: str, started: str, scale: float) -> None:
    docs = [
        _doc("iptables", run_id, started, [_t(DNS), _t(SMOKE, connect_ms=0.4), _t(LOAD, **_perf(scale))]),
        _doc("nftables", run_id, started, [_t(DNS), _t(SMOKE, "failed", "[call] AssertionError: timed out after 1 s"),
                                           _t(LOAD, **_perf(scale * 1.1))]),
        _doc("ipvs", run_id, started, [_t(n, "skipped", "CONFIG_IP_VS is not set") for n in (DNS, SMOKE, LOAD)],
             mode_status="skipped", mode_reason="mode ipvs cannot run on this host: CONFIG_IP_VS is not set",
             cluster=None),
    ]
    for d in docs:
        path = root / run_id / d["run"]["mode"] / "results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(d))


def _check(html: Path, shot: Path) -> tuple[int, int]:
    with open_page(html.as_uri()) as page:
        expected = int(page.evaluate("document.documentElement.dataset.chartsExpected"))
        rendered = int(page.evaluate("document.documentElement.dataset.chartsRendered"))
        page.screenshot(shot)
        print(f"screenshot: {shot}")
        assert page.errors() == [], "the page logged errors"
        external = [u for u in page.requests() if not u.startswith(("file:", "data:", "about:"))]
        assert external == [], "the report must not fetch anything"
    return expected, rendered


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic-results")
    _write(root / "history", "synthetic-1", "2026-01-01T00:00:00Z", 1.0)
    _write(root / "current", "synthetic-2", "2026-01-02T00:00:00Z", 0.8)  # slower: flagged as regressions
    return root


def test_every_chart_renders_without_console_errors(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "index.html"
    data = reports.build([results / "current"], out, history=[results / "history"])
    assert data.regressions, "the slower synthetic run should be flagged"
    kinds = {c["id"].split("-")[0] for c in data.charts}
    assert kinds == {"pct", "curve", "timeline", "scalar", "trend"}, "one chart of every kind is exercised"
    expected, rendered = _check(out, tmp_path / "report.png")
    assert expected == len(data.charts) > 0
    assert rendered == expected, f"{expected - rendered} of {expected} charts did not render"


def test_a_conformance_only_report_renders_and_says_so(results: Path, tmp_path: Path) -> None:
    only_conf = tmp_path / "conf" / "results.json"
    only_conf.parent.mkdir()
    doc = json.loads((results / "current" / "synthetic-2" / "iptables" / "results.json").read_text())
    doc["tests"] = [t for t in doc["tests"] if "performance" not in t["id"]]
    only_conf.write_text(json.dumps(doc))
    out = tmp_path / "index.html"
    reports.build([only_conf], out)
    assert "No performance results in these runs." in out.read_text()
    assert _check(out, tmp_path / "conformance-only.png") == (0, 0)


def test_report_of_this_test_run(tmp_path: Path) -> None:
    """The report of the real results this test command produced (``./proxylab.sh test`` sets
    PROXYLAB_RUN_ID for every tox env and runs this one last). Written next to those results as
    report.html + report.png, so a CI run leaves a real comparison behind."""
    run_id = os.environ.get("PROXYLAB_RUN_ID", "")
    run_dir = (Path(os.environ.get("PROXYLAB_RESULTS_DIR", "results")) / run_id).resolve()
    found = sorted(run_dir.glob("*/results.json")) if run_id else []
    if not found:
        pytest.skip(f"no results.json under {run_dir}/ (PROXYLAB_RUN_ID={run_id!r}): "
                    "run through `./proxylab.sh test`, which runs the mode envs first")
    out = run_dir / "report.html"
    data = reports.build([run_dir], out)
    assert data.modes == sorted({p.parent.name for p in found}, key=mode_key), data.modes
    expected, rendered = _check(out, run_dir / "report.png")
    assert expected == len(data.charts)
    assert rendered == expected, f"{expected - rendered} of {expected} charts did not render"
