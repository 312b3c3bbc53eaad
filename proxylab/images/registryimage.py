"""proxylab/registry: the CNCF distribution registry `proxylab registry up` runs.

Both image paths give the same reference (``Catalog.registry``) of the same release
([registry] in pins.toml): offline, cmd/registry is built from the Go module
github.com/distribution/distribution/v3 into a scratch image with our config (registry/config.yml);
on the pull path Docker's official image of that release is pulled and tagged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import docker
from ..constants import DOCKER_PULL_TIMEOUT_S
from ..shell import run
from ..versions import Pins
from . import dockerbuild, gobuild
from .catalog import Catalog
from .steps import Step, content_hash

MODULE = "github.com/distribution/distribution/v3"
PACKAGE = f"{MODULE}/cmd/registry"
CONFIG = Path(__file__).with_name("registry") / "config.yml"
TEMPLATE = dockerbuild.TEMPLATES / "registry.Dockerfile.j2"


def registry_spec(pins: Pins) -> gobuild.GoBuild:
    """cmd/registry of the pinned release, with the version string set as upstream's Makefile sets it."""
    version = pins.raw["registry"]["version"]
    return gobuild.GoBuild(
        name="registry", module=MODULE, version=version, packages=(PACKAGE,),
        ldflags=f"-s -w -X {MODULE}/version.version={version} -X {MODULE}/version.mainpkg={MODULE}")


def upstream_image(pins: Pins) -> str:
    """Docker's official image of the pinned release (the pull path)."""
    return f"docker.io/library/registry:{pins.raw['registry']['image_tag']}"


def offline_step(pins: Pins, cat: Catalog, go: str) -> Step:
    spec = registry_spec(pins)
    key = content_hash(spec.cache_inputs(), go, CONFIG, TEMPLATE)

    def build_registry() -> None:
        gobuild.build(spec)
        ctx = dockerbuild.context_dir("registry")
        shutil.copy2(spec.out_dir / "registry", ctx / "registry")
        shutil.copy2(CONFIG, ctx / "config.yml")
        (ctx / "storage").mkdir()
        (ctx / "storage" / ".proxylab").write_text("registry storage (owned by the registry's user)\n")
        dockerbuild.build(ctx, "registry.Dockerfile.j2", [cat.registry_image], label=dockerbuild.label_for(key))

    return Step("image-registry", key, build_registry, f"{cat.registry_image} ({PACKAGE}@{spec.version})",
                lambda: docker.image_label(cat.registry_image, dockerbuild.KEY_LABEL) == key)


def pull_step(pins: Pins, cat: Catalog) -> Step:
    src = upstream_image(pins)

    def pull() -> None:
        run(["docker", "pull", src], timeout=DOCKER_PULL_TIMEOUT_S, hint=f"could not pull {src}; try `--offline`")
        run(["docker", "tag", src, cat.registry_image])

    return Step("pull-registry", content_hash("pull", src), pull, f"{src} -> {cat.registry_image}",
                lambda: docker.image_exists(cat.registry_image))
