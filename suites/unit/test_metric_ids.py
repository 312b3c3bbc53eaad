"""Metric ids: every figure the report compares is declared by the test that records it, and old
(schema 1) results still give the same headline.

The report names its headline figures and "where the modes differ" curves by metric id
(``reports/headline.py``); the suites declare the ids next to the tests (``@records``), and
results.json stores them with each test's metrics. These tests fail when the two sides drift: an
id the report uses that no test declares (a renamed or removed figure), a declaration for a
parameter the test does not have, a declared id no test records, a known difference naming a test
that does not exist.
"""

from __future__ import annotations

import ast
import copy
import gzip
import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from proxylab.modes import all_modes
from proxylab.results import MetricId, declared, metric_ids_for, records
from reports import load
from reports.differences import differences
from reports.headline import ALONG_K, FIGURES, HeadlineRow, table
from reports.model import assemble
from reports.render import html
from reports.sources import LEGACY, find

SUITES = Path(__file__).resolve().parents[1]
OLD_RESULTS = Path(__file__).parent / "data" / "schema1"  # dev8 (iptables), dev9 (nftables), dev10 (ebpf)


def _test_modules() -> list[Path]:
    """Every test module of the recording suites (not the unit tests, which record nothing)."""
    return sorted(p for p in SUITES.rglob("test_*.py") if p.parent.name != "unit")


def _declaring_modules() -> list[ModuleType]:
    names = [".".join(p.relative_to(SUITES.parent).with_suffix("").parts) for p in _test_modules()
             if "MetricId(" in p.read_text(encoding="utf-8")]
    return [importlib.import_module(n) for n in names]


def _declarations() -> dict[str, tuple[str, Any, MetricId]]:
    """metric id -> (where, test function, declaration), over every test module under suites/."""
    out: dict[str, tuple[str, Any, MetricId]] = {}
    for mod in _declaring_modules():
        for name, fn in vars(mod).items():
            if not name.startswith("test_") or not callable(fn):
                continue
            for mid in declared(fn):
                where = f"{mod.__name__}.{name}"
                assert mid.id not in out, f"metric id {mid.id} declared by {out[mid.id][0]} and {where}"
                out[mid.id] = (where, fn, mid)
    return out


DECLARED = _declarations()


@pytest.mark.parametrize("fig", [*FIGURES, *ALONG_K], ids=lambda f: f.id)
def test_every_id_the_report_compares_is_declared_by_a_test(fig: Any) -> None:
    assert fig.id in DECLARED, (f"reports/headline.py uses metric id {fig.id!r} ({fig.label}), which no test "
                                f"module under suites/ declares with @records(MetricId(...)): its row would "
                                f"silently disappear")


def test_headline_ids_are_unique() -> None:
    ids = [f.id for f in FIGURES]
    assert len(ids) == len(set(ids))


def _params(fn: Any) -> set[str] | None:
    """The parameter ids of a test function parametrized over one argument (None if not parametrized)."""
    values: set[str] | None = None
    for mark in getattr(fn, "pytestmark", []):
        if mark.name == "parametrize":
            values = (values or set()) | {str(v) for v in mark.args[1]}
    return values


@pytest.mark.parametrize("metric_id", sorted(DECLARED))
def test_a_declaration_names_a_parameter_the_test_has(metric_id: str) -> None:
    where, fn, mid = DECLARED[metric_id]
    params = _params(fn)
    if mid.param is None:
        return
    assert params is not None and mid.param in params, \
        f"{where}: {mid.id} is declared for parameter {mid.param!r}, the test's are {sorted(params or [])}"


def test_every_metric_id_constant_is_recorded_by_a_test() -> None:
    for mod in _declaring_modules():
        attached = {m for fn in vars(mod).values() if callable(fn) for m in declared(fn)}
        constants = [v for v in vars(mod).values() if isinstance(v, MetricId)]
        constants += [m for v in vars(mod).values() if isinstance(v, tuple) for m in v if isinstance(m, MetricId)]
        orphans = [m.id for m in constants if m not in attached]
        assert not orphans, f"{mod.__name__}: declared but recorded by no test (@records): {orphans}"


def test_known_differences_name_existing_tests() -> None:
    """A renamed test would otherwise lose its known difference silently (and fail on that mode)."""
    tests = {node.name for p in _test_modules() for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    named = {(mode.value, name) for mode in all_modes() for name in mode.known_differences}
    # an upstream spec's key carries its parameter (the spec id, checked in suites/unit/test_upstream.py)
    missing = sorted((m, name) for m, name in named if name.split("[", 1)[0] not in tests)
    assert not missing, f"a mode's known_differences (proxylab/modes/) names tests that do not exist: {missing}"


# -- declarations and what a record stores --------------------------------------------------------

def test_metric_ids_for_picks_the_parameter_run() -> None:
    a, b, every = MetricId("x.a", "rps", param="a"), MetricId("x.b", "rps", param="b"), MetricId("x.all", "n")

    @records(a, b)
    @records(every)
    def test_x() -> None: ...

    assert metric_ids_for(test_x, "test_x[a]") == {"x.all": "n", "x.a": "rps"}
    assert metric_ids_for(test_x, "test_x") == {"x.all": "n"}
    assert metric_ids_for(None, "test_y[a]") == {}


def test_bad_declarations_fail_at_import() -> None:
    with pytest.raises(ValueError, match="dotted lowercase"):
        MetricId("Throughput", "rps")
    with pytest.raises(ValueError, match=r"declared twice: x\.a"):
        records(MetricId("x.a", "rps"), MetricId("x.a", "p99_ms"))(lambda: None)


FAKE_SUITE = textwrap.dedent("""
    import pytest
    from proxylab.results import MetricId, records

    pytestmark = pytest.mark.e2e


    @records(MetricId("fake.a.rps", "rps", param="a"), MetricId("fake.every.n", "n"))
    @pytest.mark.parametrize("p", ["a", "b"])
    def test_fake(metrics, p):
        metrics.update(rps=1.0, n=2)
""")


def test_the_session_conftest_records_the_declared_ids(tmp_path: Path) -> None:
    """The path a real run takes: suites/conftest.py -> ResultsWriter -> results.json -> the report."""
    (tmp_path / "test_fake.py").write_text(FAKE_SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    e2e: fake\n")
    repo = SUITES.parent
    res = subprocess.run([sys.executable, "-m", "pytest", "-p", "suites.conftest", "-q", "-p", "no:cacheprovider",
                          "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), "--run-id", "t1",
                          "--results-dir", str(tmp_path / "results"), str(tmp_path / "test_fake.py")],
                         cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    [run] = load.load([tmp_path / "results"])
    assert run.schema_version == 2
    assert {t["id"].rsplit("::", 1)[-1]: t.get("metric_ids") for t in run.tests} == {
        "test_fake[a]": {"fake.a.rps": "rps", "fake.every.n": "n"}, "test_fake[b]": {"fake.every.n": "n"}}
    assert find(run, "fake.a.rps") == ({"rps": 1.0, "n": 2}, "rps")


# -- schema 1 results, written before metric ids ---------------------------------------------------

def _old(tmp_path: Path) -> list[load.ModeRun]:
    for gz in sorted(OLD_RESULTS.glob("*.results.json.gz")):
        run_id, mode = gz.name.removesuffix(".results.json.gz").split("-")
        out = tmp_path / run_id / mode / "results.json"
        out.parent.mkdir(parents=True)
        out.write_bytes(gzip.decompress(gz.read_bytes()))
    return load.load([tmp_path])


def _shown(rows: list[HeadlineRow]) -> list[tuple[str, dict[str, float], str]]:
    return [(r.label, r.values, r.verdict()) for r in rows]


def test_schema_1_results_still_load_and_give_the_headline(tmp_path: Path) -> None:
    runs = _old(tmp_path)
    assert [(r.run_id, r.mode, r.schema_version) for r in runs] == [
        ("dev10", "ebpf", 1), ("dev8", "iptables", 1), ("dev9", "nftables", 1)]
    rows = table(runs)
    assert [r.label for r in rows] == [
        "many Services: new-connection throughput (K = 1,000 Services)",
        "many Services: new-connection throughput, largest K / smallest K (K = 1,000 Services)",
        "many Services: connect p99 latency (K = 1,000 Services)",
        "many Services: kernel CPU per new connection (K = 1,000 Services)",
        "new Service: first success after (K = 1,000 Services)",
        "new endpoint: first success after (K = 1,000 Services)",
        "first packet (TCP connect) p50 (K = 1,000 Services)",
        "proxy CPU while Services are created",
        "proxy memory after the Service sweep"]
    assert rows[3].verdict().startswith("no single best mode: ebpf better (lower) than iptables (0.80")
    assert rows[-1].values == {"iptables": pytest.approx(121.2, abs=0.05), "nftables": pytest.approx(108.4, abs=0.05),
                               "ebpf": pytest.approx(731.1, abs=0.05)}
    assert rows[0].verdict().startswith("no single best mode: ebpf better (higher) than nftables (1.25")
    assert [f.text for f in differences(rows, runs).between] == [f"{r.label}: {r.verdict()}." for r in (rows[0], rows[3])]


def _as_schema_2(run: load.ModeRun, rename: str) -> dict[str, Any]:
    """The document a schema 2 writer would have written for the same run, every test renamed:
    metric_ids from the suites' declarations, test names changed."""
    doc: dict[str, Any] = copy.deepcopy(dict(run.doc))
    doc["schema_version"] = 2
    by_name = {where.rsplit(".", 1)[-1]: fn for where, fn, _ in DECLARED.values()}
    for t in doc["tests"]:
        path, _, name = t["id"].partition("::")
        t["metric_ids"] = metric_ids_for(by_name.get(name.split("[", 1)[0]), name)
        t["id"] = f"{path}::{rename}{name}"
    return doc


def test_schema_2_finds_figures_by_id_whatever_the_tests_are_called(tmp_path: Path) -> None:
    runs = _old(tmp_path)
    renamed = [load.parse(r.path, json.dumps(_as_schema_2(r, "test_renamed_"))) for r in runs]
    assert all(r.schema_version == 2 for r in renamed)
    rows, new_rows = table(runs), table(renamed)
    assert _shown(new_rows) == _shown(rows)
    assert differences(new_rows, renamed) == differences(rows, runs)


def test_schema_2_does_not_fall_back_to_test_names(tmp_path: Path) -> None:
    """In a schema 2 file only the recorded ids count: a figure no test declared is not found by name."""
    runs = _old(tmp_path)
    bare = []
    for r in runs:
        doc = _as_schema_2(r, "")
        for t in doc["tests"]:
            t["metric_ids"] = {}
        bare.append(load.parse(r.path, json.dumps(doc)))
    assert table(bare) == []


def test_legacy_names_cover_every_id_the_report_used_before_ids() -> None:
    assert {f.id for f in (*FIGURES, *ALONG_K)} <= set(LEGACY)


def test_a_schema_2_run_reports_with_schema_1_history(tmp_path: Path) -> None:
    """Nightly history written before ids beside tonight's run: one report, trends and regressions."""
    old = _old(tmp_path)
    new = []
    for r in old:
        doc = _as_schema_2(r, "")
        doc["run"]["run_id"], doc["run"]["started"] = "tonight", "2030-01-01T00:00:00Z"
        new.append(load.parse(r.path.parent.parent.parent / "tonight" / r.mode / "results.json", json.dumps(doc)))
    data = assemble(new, old, generated="now")
    assert data.run_ids == ["tonight"] and data.history_runs[-1] == "tonight" and data.trends
    assert _shown(data.headline) == _shown(table(old))
    assert "tonight" in html(data)
