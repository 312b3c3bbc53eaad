"""Bad input gets one clear line naming what is wrong, never a traceback or a change on the host
(issue 12). Examples here; the property tests in test_properties_*.py generate many more."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import reports
from proxylab import cli, cluster, runner
from proxylab.errors import ClusterError, InvalidArgument, ProxylabError
from proxylab.modes import ProxyMode
from proxylab.results import validate, validate_run_id
from reports.load import ReportError, load

from .report_fixtures import doc, rec

IPVS = ProxyMode.parse("ipvs")
TEST = "suites/conformance/test_smoke.py::test_refused"


# -- cluster names -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["proxylab-iptables/../../../victim", "../x", "Proxylab-A", "a_b", "a-",
                                  "a" * 42, "a\n", "a b", ".", ".."])
def test_bad_cluster_names_are_refused_before_anything_happens(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXYLAB_STATE", str(tmp_path / "state"))

    def forbidden(*_: object) -> None:
        raise AssertionError("a host check or change ran before the name was validated")

    monkeypatch.setattr(cluster, "check_mode_supported", forbidden)
    with pytest.raises(ClusterError, match="invalid cluster name"):
        cluster.up(ProxyMode.parse("iptables"), name=name)
    assert not (tmp_path / "state").exists(), "no state directory for a refused name"


def test_names_are_kinds_dns_labels_within_50_characters() -> None:
    assert cluster.normalise_name(None, IPVS) == "proxylab-ipvs"
    assert cluster.normalise_name("x1", IPVS) == "proxylab-x1"
    assert cluster.normalise_name("a" * 41, IPVS) == "proxylab-" + "a" * 41  # 50 characters
    with pytest.raises(ClusterError):
        cluster.normalise_name("a" * 42, IPVS)


def test_every_state_path_stays_inside_the_state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXYLAB_STATE", str(tmp_path))
    assert cluster.cluster_dir("proxylab-a") == (tmp_path / "clusters" / "proxylab-a").resolve()
    for bad in ("..", "../x", "proxylab-a/..", "/etc"):
        with pytest.raises(ClusterError):
            cluster.cluster_dir(bad)
    with pytest.raises(ClusterError):
        cluster.down("proxylab-a/../../x")


# -- proxylab run options ------------------------------------------------------------------------

def test_modes_given_twice_or_none_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="names iptables twice"):
        runner.parse_modes("iptables,IPTABLES")
    for empty in (",", "", " , "):
        with pytest.raises(InvalidArgument, match="names no mode"):
            runner.parse_modes(empty)
    with pytest.raises(InvalidArgument, match="names no suite"):
        runner.parse_suites(",")


@pytest.mark.parametrize("run_id", ["../../x", "..", ".", "a/b", "", "-x", "a\nb", "x" * 129])
def test_run_ids_are_one_safe_path_component(run_id: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid run id"):
        validate_run_id(run_id)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--resume", run_id])


def test_resume_of_an_unknown_run_names_the_runs_there(tmp_path: Path) -> None:
    (tmp_path / "20260101-000000").mkdir()
    (tmp_path / "nightly-7").mkdir()

    with pytest.raises(InvalidArgument, match=r"run nope does not exist in .*; runs there: 20260101-000000, nightly-7"):
        runner.run([ProxyMode.parse("iptables")], ["conformance"], "nope", tmp_path, resume=True, out=lambda _: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20260101-000000", "nightly-7"], "nothing created"


def test_cli_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--modes", "iptables,iptables"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("proxylab: error: --modes names iptables twice") and err.count("\n") == 1


@pytest.mark.parametrize("value", ["0", "-1", "51", "two", "1.5"])
def test_load_workers_must_be_1_to_50(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--load-workers", value])
    assert "one per node" in capsys.readouterr().err


def test_run_id_and_resume_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--modes", "iptables", "--run-id", "a1", "--resume", "a0"]) == 2
    assert "give one of them" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "-50", "inf", "ten", "20000"])
def test_report_threshold_must_be_a_finite_percentage(value: str) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["report", "x", "--threshold", value])


# -- report: malformed results -------------------------------------------------------------------

def _write(root: Path, d: object) -> Path:
    p = root / "x" / "iptables" / "results.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(d))
    return p


def _good() -> dict[str, object]:
    return doc("iptables", "x", tests=[rec(TEST)])


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.__setitem__("run", None), "run: expected an object, got null"),
    (lambda d: d["tests"][0].pop("id"), "tests[0].id: missing"),
    (lambda d: d.__setitem__("tests", [1]), "tests[0]: expected an object, got 1"),
    (lambda d: d["tests"][0].__setitem__("duration", "fast"), 'tests[0].duration: expected a number, got "fast"'),
    (lambda d: d["run"].__setitem__("versions", None), "run.versions: expected an object of strings, got null"),
    (lambda d: d["run"].__setitem__("cluster", [1]), "run.cluster: expected an object or null, got [1]"),
    (lambda d: d["tests"][0]["metrics"].__setitem__("rps", 10 ** 400), "tests[0].metrics.rps: expected a number"),
    (lambda d: d["tests"][0].__setitem__("id", "\ud800"), "tests[0].id: expected a string of valid Unicode"),
    (lambda d: d["run"].__setitem__("images", "docker"), 'run.images: expected one of pull, offline, unknown, got "docker"'),
    (lambda d: d["run"]["host"].__setitem__("cpus", "2"), 'run.host.cpus: expected a whole number, got "2"'),
    (lambda d: d["tests"][0].__setitem__("metric_ids", {"a.b": 1}),
     "tests[0].metric_ids: expected an object of metric id -> metric key (strings), got {\"a.b\": 1}"),
])
def test_malformed_results_give_one_line_naming_file_and_field(mutate: object, message: str, tmp_path: Path) -> None:
    d = _good()
    mutate(d)  # type: ignore[operator]
    path = _write(tmp_path, d)
    with pytest.raises(ReportError) as exc:
        load([tmp_path])
    text = str(exc.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text, text


def test_non_utf8_directory_and_invalid_json_name_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, _good())
    path.write_bytes(path.read_bytes().replace(b'"h"', b'"\xff"'))
    with pytest.raises(ReportError, match=r"results\.json: is not UTF-8 text \(byte 0xff"):
        load([tmp_path])
    path.write_text('{"schema_version": 1, "run"')
    with pytest.raises(ReportError, match=r"results\.json: is not JSON"):
        load([tmp_path])
    path.unlink()
    path.mkdir()
    with pytest.raises(ReportError, match=r"results\.json: is not a regular file"):
        load([tmp_path])
    with pytest.raises(ReportError, match=r"results\.json: is a directory"):
        load([path])


def test_validate_never_fails_on_deep_or_odd_json() -> None:
    assert validate([]) == ["(document): expected a JSON object, got []"]
    assert validate({"schema_version": True, "run": {}, "tests": {}})[0].startswith("schema_version: expected 1")


# -- report: output files ------------------------------------------------------------------------

def _results(tmp_path: Path) -> Path:
    _write(tmp_path / "res", _good())
    return tmp_path / "res"


def test_output_that_is_a_directory_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ReportError, match="is a directory; the report"):
        reports.build([_results(tmp_path)], out)
    assert list(out.iterdir()) == []


def test_a_failing_summary_writes_no_html_and_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out" / "index.html"
    summary = tmp_path / "summary.md"
    real_open = Path.open

    def full_disk(self: Path, *args: object, **kwargs: object) -> object:
        if self == summary:
            raise OSError(28, "No space left on device")
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", full_disk)
    with pytest.raises(ReportError, match=r"summary\.md: cannot append the Markdown summary \(No space left on device\); "
                                          r"the report .* was not written either"):
        reports.build([_results(tmp_path)], out, markdown_summary=summary)
    assert list(out.parent.iterdir()) == [], "neither the report nor a .tmp file"


def test_outputs_below_a_file_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = tmp_path / "out" / "index.html"
    with pytest.raises(ReportError, match="is a file, not a directory"):
        reports.build([_results(tmp_path)], out, markdown_summary=blocker / "summary.md")
    assert not out.parent.exists()
    with pytest.raises(ReportError, match="is a file, not a directory"):
        reports.build([_results(tmp_path)], blocker / "index.html")
    with pytest.raises(ReportError, match="threshold"):
        reports.build([_results(tmp_path)], tmp_path / "r.html", threshold=float("nan"))


def test_run_reports_a_broken_results_file_and_keeps_going(tmp_path: Path) -> None:
    d = _good()
    d["run"] = None
    _write(tmp_path, d)
    lines: list[str] = []
    runner._report(tmp_path / "x", [], lines.append)
    assert len(lines) == 1 and "no report:" in lines[0] and "run: expected an object, got null" in lines[0]
    assert runner.is_finished(d) is False and runner.is_finished(None) is False


def test_every_error_here_is_a_proxylab_error() -> None:
    assert issubclass(ReportError, ProxylabError) and issubclass(InvalidArgument, ProxylabError)


# -- pins.toml -----------------------------------------------------------------------------------

def _pins_text() -> str:
    from proxylab.versions import PINS_FILE

    return PINS_FILE.read_text()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('[runc]\nversion = "v1.4.3"', '[runc]\nrelease = "v1.4.3"'), r"\[runc\]\.version is missing"),
    (lambda t: t.replace('version = "v2.3.5"', 'version = "latest"'),
     r"\[containerd\]\.version = 'latest' is not a pinned version"),
    (lambda t: t.replace('version = "v1.34.4"', 'version = "v1.34"'), r"\[kubernetes\]\.version = 'v1.34'"),
    (lambda t: t.replace('kopf = "1.45.2"', 'kopf = 1.45'), r"\[operator\]\.kopf must be a non-empty string"),
    (lambda t: t.replace("[debian]", "[debian_]"), r"table \[debian\] is missing"),
    (lambda t: t + "\n[broken\n", "not valid TOML: .*line"),
])
def test_pins_errors_name_the_file_table_and_key(edit: object, message: str, tmp_path: Path) -> None:
    from proxylab.errors import InvalidPins
    from proxylab.versions import read_pins

    path = tmp_path / "pins.toml"
    path.write_text(edit(_pins_text()))  # type: ignore[operator]
    with pytest.raises(InvalidPins, match=message) as exc:
        read_pins(path)
    assert str(exc.value).startswith(f"{path}: ")


def test_unreadable_or_non_utf8_pins_name_the_file(tmp_path: Path) -> None:
    from proxylab.errors import InvalidPins
    from proxylab.versions import read_pins

    with pytest.raises(InvalidPins, match="cannot be read"):
        read_pins(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_bytes(b'[kind]\nversion = "\xff"\n')
    with pytest.raises(InvalidPins, match=r"bad\.toml: not valid TOML"):
        read_pins(tmp_path / "bad.toml")


# -- LoadSpec ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "field"), [
    ({"users": "10"}, "users"), ({"users": None}, "users"), ({"users": 2.5}, "users"),
    ({"duration_s": "15"}, "duration_s"), ({"duration_s": None}, "duration_s"),
    ({"spawn_rate": "fast"}, "spawn_rate"), ({"spawn_rate": None}, "spawn_rate"),
    ({"spawn_rate": float("nan")}, "spawn_rate"), ({"spawn_rate": float("inf")}, "spawn_rate"),
    ({"request_timeout_s": -1.0}, "request_timeout_s"), ({"targets": ("echo:0",)}, "targets"),
    ({"targets": ("echo:99999",)}, "targets"), ({"targets": ("a:80,b:80",)}, "targets"),
    ({"targets": "echo:80"}, "targets"), ({"keep_alive": "no"}, "keep_alive"), ({"path": "/a b"}, "path"),
    ({"max_requests": 0.5}, "max_requests"), ({"rate_per_user": float("nan")}, "rate_per_user"),
])
def test_load_spec_names_the_bad_field(kwargs: dict[str, object], field: str) -> None:
    from loadgen.errors import LoadSpecError
    from loadgen.spec import LoadSpec

    args: dict[str, object] = {"targets": ("echo.ns.svc:80",)} | kwargs
    with pytest.raises(LoadSpecError) as exc:
        LoadSpec(**args)  # type: ignore[arg-type]
    assert str(exc.value).startswith(field), str(exc.value)
