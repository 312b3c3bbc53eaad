"""Build steps cached by the content of their inputs.

A step's key is a hash of everything that determines its output (pins, file contents, the keys
of the steps it consumes). A step whose stamp holds the same key, and whose outputs still exist,
is skipped. Stamps are written only after success, so an interrupted build resumes at the step
it was in (Go's own build cache makes a resumed Go step cheap too).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildFailed, ProxylabError
from ..paths import cache_dir
from ..shell import elapsed


def content_hash(*parts: object) -> str:
    """Hash of nested plain data and the contents of any Path inside it (files or whole trees)."""
    h = hashlib.sha256()

    def feed(obj: object) -> None:
        if isinstance(obj, Path):
            if obj.is_dir():
                for sub in sorted(p for p in obj.rglob("*") if p.is_file()):
                    h.update(str(sub.relative_to(obj)).encode())
                    h.update(sub.read_bytes())
            else:
                h.update(obj.read_bytes())
        elif isinstance(obj, dict):
            for k in sorted(obj):
                h.update(str(k).encode())
                feed(obj[k])
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                feed(item)
        else:
            h.update(repr(obj).encode())
        h.update(b"\x00")

    for part in parts:
        feed(part)
    return h.hexdigest()[:20]


@dataclass
class Step:
    name: str
    key: str
    action: Callable[[], None]
    describe: str
    outputs_exist: Callable[[], bool] = field(default=lambda: True)

    @property
    def stamp(self) -> Path:
        return cache_dir() / "stamps" / f"{self.name}.json"

    def up_to_date(self) -> bool:
        if not self.stamp.exists():
            return False
        try:
            data = json.loads(self.stamp.read_text())
        except ValueError:
            return False
        return bool(data.get("key") == self.key and self.outputs_exist())


class StepRunner:
    """Runs steps in order, printing `[i/n] name: what (elapsed)` progress lines."""

    def __init__(self, total: int, out: Callable[[str], None] | None = None) -> None:
        self.total = total
        self.index = 0
        self.started = time.monotonic()
        self.out = out or (lambda s: print(s, file=sys.stderr, flush=True))
        self.built: list[str] = []
        self.cached: list[str] = []

    def run(self, step: Step) -> None:
        self.index += 1
        prefix = f"[{self.index}/{self.total}] {step.name}"
        if step.up_to_date():
            self.out(f"{prefix}: cached ({step.describe}) [total {elapsed(self.started)}]")
            self.cached.append(step.name)
            return
        self.out(f"{prefix}: building {step.describe} ...")
        t0 = time.monotonic()
        try:
            step.action()
        except ProxylabError as exc:
            raise BuildFailed(f"step {step.name} ({step.describe}) failed:\n{exc}") from exc
        if not step.outputs_exist():
            raise BuildFailed(f"step {step.name} finished but its outputs are missing")
        step.stamp.parent.mkdir(parents=True, exist_ok=True)
        step.stamp.write_text(json.dumps({"key": step.key, "seconds": round(time.monotonic() - t0, 1),
                                          "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        self.built.append(step.name)
        self.out(f"{prefix}: done in {elapsed(t0)} [total {elapsed(self.started)}]")
