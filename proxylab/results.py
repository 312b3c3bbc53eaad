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
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = 1
Verdict = Literal["passed", "failed", "skipped"]


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime())


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


class ResultsWriter:
    """Accumulates test records for one run and mode; persists after every change."""

    def __init__(self, path: Path, run: RunMetadata) -> None:
        self.path = path
        self.run = run
        self.tests: list[TestRecord] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
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


def validate(doc: dict[str, Any]) -> list[str]:
    """Problems with a results document (empty when valid); used by tests and the report."""
    problems = []
    if doc.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version is {doc.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    run = doc.get("run", {})
    for key in ("run_id", "mode", "versions", "host", "started"):
        if key not in run:
            problems.append(f"run.{key} missing")
    for i, t in enumerate(doc.get("tests", [])):
        if t.get("verdict") not in ("passed", "failed", "skipped"):
            problems.append(f"tests[{i}].verdict is {t.get('verdict')!r}")
        if not isinstance(t.get("metrics"), dict):
            problems.append(f"tests[{i}].metrics is not an object")
    return problems
