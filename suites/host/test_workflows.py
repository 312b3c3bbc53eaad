"""The GitHub Actions workflows pass actionlint (built from the Go module proxy if missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint"
VERSION = "v1.7.12"
BIN_DIR = Path.home() / ".cache" / "proxylab" / "bin"
REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def actionlint() -> Path:
    """The pinned actionlint in ~/.cache/proxylab/bin, built with `go install` when absent or older."""
    exe = BIN_DIR / "actionlint"
    if exe.exists():
        res = subprocess.run([str(exe), "-version"], capture_output=True, text=True, timeout=30)
        if res.stdout.startswith(VERSION):
            return exe
    go = shutil.which("go")
    if go is None:
        pytest.fail(f"Go is needed to build actionlint {VERSION}: install Go (https://go.dev/dl or apt-get install "
                    f"golang), or put actionlint {VERSION} at {exe}")
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    res = subprocess.run([go, "install", f"{ACTIONLINT}@{VERSION}"], env=os.environ | {"GOBIN": str(BIN_DIR)},
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"go install {ACTIONLINT}@{VERSION} failed:\n{res.stderr[-3000:]}"
    return exe


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "nightly.yml"}


def test_workflows_pass_actionlint() -> None:
    res = subprocess.run([str(actionlint()), "-no-color", *map(str, WORKFLOWS)], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and not res.stdout.strip(), f"actionlint findings:\n{res.stdout}{res.stderr}"
