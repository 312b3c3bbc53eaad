"""`docker build` of a rendered template in a prepared context directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2

from ..docker import LABEL
from ..paths import cache_dir
from ..shell import run

TEMPLATES = Path(__file__).with_name("templates")
KEY_LABEL = "dev.proxylab.key"  # the cache key an image was built from
_env = jinja2.Environment(  # noqa: S701 - renders Dockerfiles, not HTML
    loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                          keep_trailing_newline=True)


def label_for(key: str) -> str:
    return f'{LABEL}=true {KEY_LABEL}="{key}"'


def context_dir(name: str) -> Path:
    """A fresh, empty build context directory for ``name``."""
    ctx = cache_dir() / "ctx" / name
    if ctx.exists():
        shutil.rmtree(ctx)
    ctx.mkdir(parents=True)
    return ctx


def build(ctx: Path, template: str, tags: list[str], **values: object) -> None:
    (ctx / "Dockerfile").write_text(_env.get_template(template).render(**values))
    argv = ["docker", "build", "-q"]
    for tag in tags:
        argv += ["-t", tag]
    run([*argv, str(ctx)], env={"DOCKER_BUILDKIT": "0"}, timeout=3600,
        hint=f"building {tags[0]} failed; the output above names the failing step")
