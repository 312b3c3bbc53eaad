"""The results schema: one results.json per run and mode, written as tests finish.

Schema (``schema_version`` 1)::

    {
      "schema_version": 1,
      "run": {
        "run_id": str, "mode": str, "started": ISO-8601, "finished": ISO-8601 | null,
        "versions": {"kubernetes": str, "kind": str, "containerd": str, ..., "proxy": str},
        "images": "pull" | "offline" | "unknown",
        "host": {"kernel": str, "cpus": int, "cgroups": str, "hostname": str},
        "git_commit": str | null,
        "cluster": {"name": str, "up_seconds": float} | null,
        "mode_status": "ran" | "skipped" | "failed", "mode_reason": str,
        "proxy_features": {str: any JSON} | null   (ebpf: what Cilium was asked for and reports)
      },
      "tests": [
        {"id": str, "verdict": "passed" | "failed" | "skipped", "reason": str,
         "duration": float, "finished": ISO-8601, "metrics": {str: any JSON}}
      ]
    }

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import InvalidArgument

SCHEMA_VERSION = 1
Verdict = Literal["passed", "failed", "skipped"]
RUN_ID_MAX = 128
_RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


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


@dataclass
class TestRecord:
    __test__ = False  # not a pytest test class despite the name

    id: str
    verdict: Verdict
    reason: str = ""
    duration: float = 0.0
    finished: str = field(default_factory=now_iso)
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunMetadata:
    run_id: str
    mode: str
    versions: dict[str, str]
    images: str
    host: dict[str, Any]
    git_commit: str | None
    started: str = field(default_factory=now_iso)
    finished: str | None = None
    cluster: dict[str, Any] | None = None
    mode_status: str = "ran"
    mode_reason: str = ""
    proxy_features: dict[str, Any] | None = None


def host_facts() -> dict[str, Any]:
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

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "run": asdict(self.run), "tests": [asdict(t) for t in self.tests]}

    def flush(self) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")
        os.replace(tmp, self.path)


MODE_STATUSES = ("ran", "skipped", "failed")
VERDICTS = ("passed", "failed", "skipped")
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


def _obj(v: Any) -> bool:
    return isinstance(v, dict)


def _opt_obj(v: Any) -> bool:
    return v is None or isinstance(v, dict)


def _opt_number(v: Any) -> bool:
    return v is None or is_json_number(v)


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
    elif type(doc["schema_version"]) is not int or doc["schema_version"] != SCHEMA_VERSION:
        c.problems.append(f"schema_version: expected {SCHEMA_VERSION}, got {_show(doc['schema_version'])} "
                          "(written by another proxylab version?)")
    run = c.field(doc, "run", "", "an object", _obj, required=True)
    if run is not None:
        c.field(run, "run_id", "run", "a non-empty string", _nonempty_str, required=True)
        c.field(run, "mode", "run", "a non-empty string", _nonempty_str, required=True)
        versions = c.field(run, "versions", "run", "an object of strings", _obj, required=True)
        if versions is not None:
            for k, v in versions.items():
                if not isinstance(v, str):
                    c.bad(f"run.versions.{k}", "a string", v)
        c.field(run, "host", "run", "an object", _obj, required=True)
        c.field(run, "started", "run", "a string (ISO-8601 time)", _str, required=True)
        c.field(run, "finished", "run", "a string (ISO-8601 time) or null", _opt_str, required=False)
        c.field(run, "images", "run", "a string", _str, required=False)
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
    tests = c.field(doc, "tests", "", "a list", lambda v: isinstance(v, list), required=False) or []
    for i, t in enumerate(tests):
        path = f"tests[{i}]"
        if len(c.problems) >= _MAX_PROBLEMS:
            break
        if not isinstance(t, dict):
            c.bad(path, "an object", t)
            continue
        c.field(t, "id", path, "a non-empty string, the pytest node id", _nonempty_str, required=True)
        c.field(t, "verdict", path, "one of " + ", ".join(VERDICTS), lambda v: isinstance(v, str) and v in VERDICTS,
                required=True)
        c.field(t, "reason", path, "a string", _str, required=False)
        c.field(t, "duration", path, "a number", is_json_number, required=False)
        c.field(t, "finished", path, "a string", _str, required=False)
        c.field(t, "metrics", path, "an object", _obj, required=True)
    return c.problems
