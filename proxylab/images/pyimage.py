"""Python application images without a registry and without HTTPS inside `docker build`.

Wheels are downloaded on the host (which reaches PyPI and trusts its CA bundle) for the image's
interpreter (Debian bookworm's CPython 3.11), copied into the build context, and installed with
`--no-index` into /opt/venv. No CA bundle ever enters the image.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ..shell import run
from . import dockerbuild

PYTHON_TAG = "3.11"  # Debian bookworm's python3
# gevent/pyzmq ship manylinux_2_28 wheels only; bookworm's glibc 2.36 runs them.
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "any")


def download_wheels(requirements: list[str], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version", PYTHON_TAG,
         "--implementation", "cp", *platforms, "-d", str(dest), *requirements], timeout=1200,
        hint=f"could not download wheels for {' '.join(requirements)} from PyPI; check the host's pip "
             "configuration (PIP_INDEX_URL, PIP_CERT)")


def build_python_image(*, name: str, ref: str, base: str, requirements: list[str],
                       sources: dict[str, Path], label: str) -> None:
    """Build ``ref``: ``base`` + python3 venv with ``requirements`` + ``sources`` copied under /app."""
    ctx = dockerbuild.context_dir(name)
    download_wheels(requirements, ctx / "wheels")
    (ctx / "app").mkdir()
    for rel, src in sources.items():
        shutil.copytree(src, ctx / "app" / rel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dockerbuild.build(ctx, "python-app.Dockerfile.j2", [ref], base=base, requirements=" ".join(requirements),
                      label=label)
