"""Property: a results file gives a report or one ReportError line naming the file (and, for a
malformed document, the field), whatever it holds; never a traceback from deeper in the report."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reports
from proxylab.results import validate
from reports.load import ModeRun, ReportError, from_doc, parse, read
from reports.model import assemble
from reports.render import html, markdown

from .props import json_values, mutations, props
from .report_fixtures import doc, rec

PATH = Path("results/x/iptables/results.json")
NOW = "2026-03-01T00:00:00Z"


def _valid() -> dict[str, Any]:
    d = doc("iptables", "x", tests=[
        rec("suites/conformance/test_smoke.py::test_refused", connect_ms=0.4),
        rec("suites/performance/test_throughput.py::test_cluster_ip[keepalive]", rps=900.0, p99_ms=3.1,
            ratio_to_baseline=0.9, latency_timeline=[[0, 1.0], [1, 1.2]]),
        rec("suites/performance/test_programming.py::test_programming_latency_new_service",
            programming_latency={"100": 0.4, "1000": 0.9}),
        rec("suites/conformance/test_readiness.py::test_unready", "failed", "assert False"),
    ])
    d["run"]["proxy_features"] = None
    return d


VALID = _valid()


def _earlier() -> ModeRun:
    d = _valid()
    d["run"]["run_id"], d["run"]["started"] = "w", "2025-12-01T00:00:00Z"
    return from_doc(Path("results/w/iptables/results.json"), d)


def _report(runs: list[ModeRun]) -> None:
    """The whole report from loaded runs, as `proxylab report` builds it (no file written), with
    and without an earlier run as history (trends and regressions)."""
    for earlier in ([], [_earlier()]):
        data = assemble(runs, earlier, generated=NOW)
        html(data)
        markdown(data)


def _outcome(text: str) -> None:
    try:
        run = parse(PATH, text)
    except ReportError as exc:
        message = str(exc)
        assert message.startswith(f"{PATH}: ") and "\n" not in message, message
        return
    assert validate(run.doc) == []
    _report([run])


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


@props(300)
@given(mutations(VALID))
def test_mutated_documents_load_or_name_file_and_field(d: Any) -> None:
    _outcome(_dumps(d))


@props(250)
@given(json_values(20))
def test_any_json_loads_or_names_the_file(d: Any) -> None:
    _outcome(_dumps(d))


@props(250)
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(str.encode)
       | st.builds(lambda raw, cut: raw[:cut], st.just(_dumps(VALID).encode()), st.integers(0, 2000)))
def test_any_bytes_in_a_file_load_or_name_the_file(data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("r") / "results.json"
    path.write_bytes(data)
    try:
        run = read(path)
    except ReportError as exc:
        assert str(exc).startswith(f"{path}: "), str(exc)
        return
    _report([run])


METRIC_VALUES = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**60), 2**60)
                 | st.lists(st.lists(st.floats(allow_nan=False) | st.integers(0, 10**6), max_size=3), max_size=4)
                 | st.dictionaries(st.text(max_size=6), st.floats() | st.integers(0, 10**6), max_size=4) | json_values(4))
METRIC_KEYS = st.sampled_from(["rps", "p50_ms", "p99_ms", "ratio_to_baseline", "programming_latency",
                               "first_packet_latency", "latency_timeline", "cpu_millicores", "seconds", "x_ms"]) \
    | st.text(max_size=8)


@props(250)
@given(st.lists(st.tuples(st.sampled_from(["iptables", "nftables", "ipvs", "ebpf", "other"]),
                          st.sampled_from(["r1", "r2"]),
                          st.dictionaries(METRIC_KEYS, METRIC_VALUES, max_size=4),
                          st.sampled_from(["passed", "failed", "skipped"]),
                          st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 10)),
                min_size=1, max_size=5))
def test_valid_documents_with_odd_metrics_always_report(entries: list[tuple[str, str, dict[str, Any], str, float]]) -> None:
    """Documents the loader accepts never crash the report, whatever numbers their metrics hold."""
    runs = []
    for i, (mode, run_id, metrics, verdict, duration) in enumerate(entries):
        d = doc(mode, run_id, started=f"2026-01-0{i + 1}T00:00:00Z",
                tests=[rec("suites/performance/test_throughput.py::test_cluster_ip[keepalive]", verdict, **metrics)])
        d["tests"][0]["duration"] = duration
        text = _dumps(d)
        try:
            runs.append(parse(Path(f"/r/{i}/results.json"), text))
        except ReportError as exc:
            assert str(exc).startswith(f"/r/{i}/results.json: "), str(exc)
    if runs:
        data = assemble(runs[-2:], runs[:-2], generated=NOW, threshold=0.0)
        html(data)
        markdown(data)


@props(200)
@given(threshold=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 5))
def test_thresholds_are_checked_before_anything_is_written(threshold: float,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("t")
    (root / "x" / "iptables").mkdir(parents=True)
    (root / "x" / "iptables" / "results.json").write_text(_dumps(VALID))
    out = root / "out" / "index.html"
    try:
        reports.build([root / "x"], out, threshold=threshold)
    except ReportError as exc:
        assert not (math.isfinite(threshold) and 0 <= threshold <= reports.MAX_THRESHOLD), str(exc)
        assert not out.parent.exists() or not list(out.parent.iterdir())
        return
    assert out.is_file() and [p.name for p in out.parent.iterdir()] == ["index.html"]
