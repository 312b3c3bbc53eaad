"""The results schema: one results.json per run and mode, written as tests finish.

One typed definition serves both sides: the suites write through ``ResultsWriter`` (dataclasses
whose ``to_doc`` builds the TypedDicts below) and the report reads the same TypedDicts back
(``reports/load.py``, after ``validate`` has checked a file against them). Change a field here and
mypy points at every writer and reader that has to follow.

Schema (``schema_version`` 2; version 1 files, written before metric ids, still load)::

    {
      "schema_version": 2,
      "run": {
        "run_id": str, "mode": str, "started": ISO-8601, "finished": ISO-8601 | null,
        "versions": {"kubernetes": str, "kind": str, "containerd": str, ..., "proxy": str},
        "images": "pull" | "offline" | "unknown",
        "host": {"kernel": str, "cpus": int, "cgroups": str, "hostname": str},
        "git_commit": str | null,
        "cluster": {"name": str, "up_seconds": float, "nodes": [str]} | null,
        "mode_status": "ran" | "skipped" | "failed", "mode_reason": str,
        "proxy_features": {str: any JSON} | null   (ebpf: what Cilium was asked for and reports)
      },
      "tests": [
        {"id": str, "verdict": "passed" | "failed" | "skipped", "reason": str,
         "duration": float, "finished": ISO-8601, "metrics": {str: any JSON},
         "metric_ids": {metric id: key in metrics}   (version 2)}
      ]
    }

``metric_ids`` names the figures a test records by stable ids (``MetricId``, declared next to the
test with ``@records``), so the report's headline finds them by id, not by the test's name. In a
version 1 file there are none: the report falls back to the test names of that time
(``reports/sources.py``).

The file is rewritten atomically (temp file + rename) after every test, so a crash or Ctrl-C
keeps everything measured up to that point.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, TypeVar, cast, get_args

from .errors import InvalidArgument

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)  # 1: before metric ids (the report finds version 1 figures by test name)

Verdict = Literal["passed", "failed", "skipped"]
ModeStatus = Literal["ran", "skipped", "failed"]
ImageSource = Literal["pull", "offline", "unknown"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
MODE_STATUSES: tuple[ModeStatus, ...] = get_args(ModeStatus)
IMAGE_SOURCES: tuple[ImageSource, ...] = get_args(ImageSource)

Metrics = dict[str, Any]
"""What one test measured: free-form JSON (numbers, curves, repeat statistics, timelines); the
keys the report understands are its contract, ``reports/metrics.py``."""


class HostDoc(TypedDict, total=False):
    kernel: str
    cpus: int
    cgroups: str
    hostname: str


class ClusterDoc(TypedDict, total=False):
    name: str
    up_seconds: float | None
    nodes: list[str]
    image_registry: str  # --image-registry: where the cluster pulled proxylab's own images from
    image_push_seconds: float
    node_access: str  # how tests reached nodes: "agent" (proxylab/nodes/agent.py) or "docker"
    # An existing cluster (--kubeconfig, proxylab/existing.py): what was detected in it.
    provider: str  # "existing" (absent: a kind cluster proxylab created)
    context: str
    kubeconfig: str
    local_kind: str | None
    kubernetes_version: str
    node_count: int
    proxy_mode: str
    detected_proxy_mode: str  # a mode, or "unknown"
    proxy_mode_evidence: list[str]
    service_cidrs: list[str]
    pod_cidrs: list[str]
    containment: dict[str, Any]


class RunDoc(TypedDict):
    run_id: str
    mode: str
    versions: dict[str, str]
    images: NotRequired[ImageSource]
    host: HostDoc
    git_commit: NotRequired[str | None]
    started: str
    finished: NotRequired[str | None]
    cluster: NotRequired[ClusterDoc | None]
    mode_status: NotRequired[ModeStatus]
    mode_reason: NotRequired[str]
    proxy_features: NotRequired[dict[str, Any] | None]


class RecordDoc(TypedDict):
    """One test's record (not named Test*: pytest would try to collect it where it is imported)."""

    id: str
    verdict: Verdict
    reason: NotRequired[str]
    duration: NotRequired[float]
    finished: NotRequired[str]
    metrics: Metrics
    metric_ids: NotRequired[dict[str, str]]  # metric id -> key in metrics (schema 2)


class ResultsDoc(TypedDict):
    schema_version: int
    run: RunDoc
    tests: NotRequired[list[RecordDoc]]


RUN_ID_MAX = 128
_RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


EXPECTED_FAILURE = "expected failure"  # how a record's reason starts when a known difference showed


def is_known_difference(record: RecordDoc) -> bool:
    """A record of a mode's recorded known difference that did show (a strict xfail, kept as skipped)."""
    return str(record.get("reason", "")).startswith(EXPECTED_FAILURE)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def validate_run_id(run_id: str) -> str:
    """``run_id`` if it is one safe path component (letters, digits, '.', '_', '-'; starting with a
    letter or digit, so never '.' or '..'), else InvalidArgument: run ids become directory names."""
    if not isinstance(run_id, str) or len(run_id) > RUN_ID_MAX or not _RUN_ID_RE.fullmatch(run_id):
        raise InvalidArgument(f"invalid run id {run_id!r}: use letters, digits, '.', '_' and '-', starting with a "
                              f"letter or digit, at most {RUN_ID_MAX} characters (e.g. {new_run_id()})")
    return run_id


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except OSError:
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


_METRIC_ID_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_]*)+")
_DECLARED = "__proxylab_metric_ids__"


@dataclass(frozen=True)
class MetricId:
    """A stable name for one figure a test records, declared in the test's module and attached to
    the test with ``@records``: the report's headline and differences find figures by these ids,
    so renaming a test (or moving it to another module) keeps its rows.

    ``metric`` is the key of the test's ``metrics`` holding the figure (its repeat statistics are
    ``<metric>_stats``); ``param``, for a parametrized test, the parameter id (``keepalive`` of
    ``test_cluster_ip[keepalive]``) whose run records it (None: every run of the test).
    """

    id: str
    metric: str
    param: str | None = None

    def __post_init__(self) -> None:
        if not _METRIC_ID_RE.fullmatch(self.id):
            raise ValueError(f"metric id {self.id!r}: use dotted lowercase names, e.g. 'throughput.newconn_ratio'")
        if not self.metric:
            raise ValueError(f"metric id {self.id!r}: names no metric key")


_F = TypeVar("_F", bound=Callable[..., object])


def records(*ids: MetricId) -> Callable[[_F], _F]:
    """Declare the metric ids a test function records (any order with pytest's own decorators)."""
    def mark(fn: _F) -> _F:
        declared: tuple[MetricId, ...] = (*getattr(fn, _DECLARED, ()), *ids)
        names = [m.id for m in declared]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{getattr(fn, '__name__', fn)}: metric ids declared twice: {', '.join(dup)}")
        setattr(fn, _DECLARED, declared)
        return fn
    return mark


def declared(fn: object) -> tuple[MetricId, ...]:
    """Every MetricId ``@records`` attached to ``fn`` (empty for anything else)."""
    ids = getattr(fn, _DECLARED, ())
    return tuple(m for m in ids if isinstance(m, MetricId)) if isinstance(ids, tuple) else ()


def metric_ids_for(fn: object, test_name: str) -> dict[str, str]:
    """The ids one run of a test records, as results.json stores them: {id: metric key}.

    ``test_name`` is pytest's item name, ``test_cluster_ip[keepalive]``: an id declared for another
    parameter is left out."""
    param = test_name.partition("[")[2].removesuffix("]") or None
    return {m.id: m.metric for m in declared(fn) if m.param is None or m.param == param}


@dataclass
class TestRecord:
    __test__ = False  # not a pytest test class despite the name

    id: str
    verdict: Verdict
    reason: str = ""
    duration: float = 0.0
    finished: str = field(default_factory=now_iso)
    metrics: Metrics = field(default_factory=dict)
    metric_ids: dict[str, str] = field(default_factory=dict)

    def to_doc(self) -> RecordDoc:
        return {"id": self.id, "verdict": self.verdict, "reason": self.reason, "duration": self.duration,
                "finished": self.finished, "metrics": self.metrics, "metric_ids": dict(self.metric_ids)}


@dataclass
class RunMetadata:
    run_id: str
    mode: str
    versions: dict[str, str]
    images: ImageSource
    host: HostDoc
    git_commit: str | None
    started: str = field(default_factory=now_iso)
    finished: str | None = None
    cluster: ClusterDoc | None = None
    mode_status: ModeStatus = "ran"
    mode_reason: str = ""
    proxy_features: dict[str, Any] | None = None

    def to_doc(self) -> RunDoc:
        return {"run_id": self.run_id, "mode": self.mode, "versions": dict(self.versions), "images": self.images,
                "host": self.host, "git_commit": self.git_commit, "started": self.started,
                "finished": self.finished, "cluster": self.cluster, "mode_status": self.mode_status,
                "mode_reason": self.mode_reason, "proxy_features": self.proxy_features}


def image_source(strategy: str) -> ImageSource:
    """How the images were obtained, from ``images.build.last_strategy()`` ('unknown' if unrecognised)."""
    return next((s for s in IMAGE_SOURCES if s == strategy), "unknown")


def host_facts() -> HostDoc:
    from .kernel import cgroup_version

    return {"kernel": platform.release(), "cpus": os.cpu_count() or 0, "cgroups": cgroup_version(),
            "hostname": socket.gethostname()}


def keep_interrupted(path: Path) -> Path | None:
    """Move aside the results of an earlier session of this run and mode that never finished (it
    was killed), so a new session does not overwrite what that one measured. Returns where they
    went (``results.interrupted-N.json`` beside it; the report reads only results.json)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        doc = None  # unreadable: keep it aside too, never delete evidence
    run = doc.get("run") if isinstance(doc, dict) else None
    if isinstance(run, dict) and run.get("finished"):
        return None
    n = 1
    while (dest := path.with_name(f"results.interrupted-{n}.json")).exists():
        n += 1
    os.replace(path, dest)
    return dest


class ResultsWriter:
    """Accumulates test records for one run and mode; persists after every change."""

    def __init__(self, path: Path, run: RunMetadata) -> None:
        self.path = path
        self.run = run
        self.tests: list[TestRecord] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.interrupted = keep_interrupted(path)
        self.flush()

    def add(self, record: TestRecord) -> None:
        self.tests = [t for t in self.tests if t.id != record.id] + [record]
        self.flush()

    def finish(self) -> None:
        self.run.finished = now_iso()
        self.flush()

    def to_json(self) -> ResultsDoc:
        return {"schema_version": SCHEMA_VERSION, "run": self.run.to_doc(), "tests": [t.to_doc() for t in self.tests]}

    def flush(self) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")
        os.replace(tmp, self.path)


_MAX_PROBLEMS = 20


def _show(value: Any) -> str:
    """A value as it appears in JSON, shortened for a one-line message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates as \udxxx
    return text if len(text) <= 60 else text[:57] + "..."


def is_json_number(value: Any) -> bool:
    """An int or float (not a bool) that converts to a float: a 400-digit integer does not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


class _Checker:
    """Collects ``<field path>: <problem>`` lines for one document."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, path: str, expected: str, value: Any) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(f"{path}: expected {expected}, got {_show(value)}")

    def missing(self, path: str, expected: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(f"{path}: missing (expected {expected})")

    def field(self, obj: dict[str, Any], key: str, path: str, expected: str, ok: Any, *, required: bool) -> Any:
        if key not in obj:
            if required:
                self.missing(f"{path}.{key}" if path else key, expected)
            return None
        value = obj[key]
        if not ok(value):
            self.bad(f"{path}.{key}" if path else key, expected, value)
            return None
        return value

    def walk(self, doc: Any) -> None:
        """Every number in ``doc`` converts to a float (metrics are free-form JSON, and the report
        computes with them) and every string is valid Unicode (no lone surrogate escape)."""
        stack: list[tuple[Any, str]] = [(doc, "")]
        while stack and len(self.problems) < _MAX_PROBLEMS:
            v, p = stack.pop()
            if isinstance(v, dict):
                for k, item in v.items():
                    path = f"{p}.{_key(k)}" if p else _key(k)
                    if not _unicode(k):
                        self.bad(path, "a key of valid Unicode (no lone surrogate)", k)
                    stack.append((item, path))
            elif isinstance(v, list):
                stack += [(item, f"{p}[{i}]") for i, item in enumerate(v)]
            elif isinstance(v, str) and not _unicode(v):
                self.bad(p or "(document)", "a string of valid Unicode (no lone surrogate)", v)
            elif isinstance(v, int | float) and not isinstance(v, bool) and not is_json_number(v):
                self.bad(p or "(document)", "a number within the range of a float", v)


def _key(k: str) -> str:
    """A key as it appears in a field path: plain when it is a simple name, else quoted."""
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else _show(k)


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _nonempty_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v)


def _opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _str_map(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(x, str) and x for x in v.values())


def _obj(v: Any) -> bool:
    return isinstance(v, dict)


def _opt_obj(v: Any) -> bool:
    return v is None or isinstance(v, dict)


def _opt_number(v: Any) -> bool:
    return v is None or is_json_number(v)


def _check_run(c: _Checker, run: dict[str, Any]) -> None:
    """The ``run`` object: who ran which mode, where, with which versions, and the mode's status."""
    c.field(run, "run_id", "run", "a non-empty string", _nonempty_str, required=True)
    c.field(run, "mode", "run", "a non-empty string", _nonempty_str, required=True)
    versions = c.field(run, "versions", "run", "an object of strings", _obj, required=True)
    if versions is not None:
        for k, v in versions.items():
            if not isinstance(v, str):
                c.bad(f"run.versions.{k}", "a string", v)
    host = c.field(run, "host", "run", "an object", _obj, required=True)
    if host is not None:
        for key in ("kernel", "cgroups", "hostname"):
            c.field(host, key, "run.host", "a string", _str, required=False)
        c.field(host, "cpus", "run.host", "a whole number", _int, required=False)
    c.field(run, "started", "run", "a string (ISO-8601 time)", _str, required=True)
    c.field(run, "finished", "run", "a string (ISO-8601 time) or null", _opt_str, required=False)
    c.field(run, "images", "run", "one of " + ", ".join(IMAGE_SOURCES), lambda v: v in IMAGE_SOURCES,
            required=False)
    c.field(run, "git_commit", "run", "a string or null", _opt_str, required=False)
    status = c.field(run, "mode_status", "run", "a string", _str, required=False)
    if status is not None and status not in MODE_STATUSES:
        c.bad("run.mode_status", "one of " + ", ".join(MODE_STATUSES), status)
    c.field(run, "mode_reason", "run", "a string", _str, required=False)
    c.field(run, "proxy_features", "run", "an object or null", _opt_obj, required=False)
    cluster = c.field(run, "cluster", "run", "an object or null", _opt_obj, required=False)
    if cluster is not None:
        c.field(cluster, "name", "run.cluster", "a string", _str, required=False)
        c.field(cluster, "up_seconds", "run.cluster", "a number or null", _opt_number, required=False)
        c.field(cluster, "nodes", "run.cluster", "a list of strings", _str_list, required=False)


def _check_test(c: _Checker, t: Any, path: str) -> None:
    """One entry of ``tests``: its id, verdict and metrics."""
    if not isinstance(t, dict):
        c.bad(path, "an object", t)
        return
    c.field(t, "id", path, "a non-empty string, the pytest node id", _nonempty_str, required=True)
    c.field(t, "verdict", path, "one of " + ", ".join(VERDICTS), lambda v: isinstance(v, str) and v in VERDICTS,
            required=True)
    c.field(t, "reason", path, "a string", _str, required=False)
    c.field(t, "duration", path, "a number", is_json_number, required=False)
    c.field(t, "finished", path, "a string", _str, required=False)
    c.field(t, "metrics", path, "an object", _obj, required=True)
    c.field(t, "metric_ids", path, "an object of metric id -> metric key (strings)", _str_map, required=False)


def validate(doc: Any) -> list[str]:
    """Problems with a results document, each ``<field>: <what is wrong>`` (empty when valid).

    Checks the whole shape the report relies on, so any JSON value gives either no problem or
    problems naming the field: the report never meets a value of the wrong type. Unknown keys are
    allowed (newer writers may add some).
    """
    c = _Checker()
    if not isinstance(doc, dict):
        c.bad("(document)", "a JSON object", doc)
        return c.problems
    c.walk(doc)
    if "schema_version" not in doc:
        c.missing("schema_version", f"{SCHEMA_VERSION}")
    elif type(doc["schema_version"]) is not int or doc["schema_version"] not in READABLE_SCHEMAS:
        c.problems.append(f"schema_version: expected {' or '.join(map(str, READABLE_SCHEMAS))}, got "
                          f"{_show(doc['schema_version'])} (written by another proxylab version?)")
    run = c.field(doc, "run", "", "an object", _obj, required=True)
    if run is not None:
        _check_run(c, run)
    tests = c.field(doc, "tests", "", "a list", lambda v: isinstance(v, list), required=False) or []
    for i, t in enumerate(tests):
        if len(c.problems) >= _MAX_PROBLEMS:
            break
        _check_test(c, t, f"tests[{i}]")
    return c.problems


class InvalidResults(ValueError):
    """A document that is not a results.json; ``problems`` as ``validate`` lists them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def checked(doc: object) -> ResultsDoc:
    """``doc`` as the typed document it was validated to be; InvalidResults if it is not one."""
    problems = validate(doc)
    if problems:
        raise InvalidResults(problems)
    return cast(ResultsDoc, doc)  # the one place a JSON value becomes typed: validate checked every field
