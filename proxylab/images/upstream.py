"""Kubernetes' own e2e suite as proxylab runs it: e2e.test, the ginkgo CLI and the agnhost image.

Both image paths give the same three things, at the versions pins.toml names:

- offline: e2e.test (`go test -c k8s.io/kubernetes/test/e2e`) and agnhost are built from the
  pinned Kubernetes module (staging modules replaced by their published versions, as for the
  node image), ginkgo from its own module; agnhost goes into a Debian image with the tools the
  Services specs exec (curl, nc, ip, dig, iperf, bash) under upstream's name, so the specs find it;
- pull: e2e.test and ginkgo are copied out of upstream's conformance image of the pinned
  Kubernetes version, agnhost is pulled.

The binaries land in ``upstream_bin_dir()``; the suite (suites/upstream) runs them from there.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .. import docker
from ..constants import DOCKER_PULL_TIMEOUT_S
from ..errors import BuildFailed
from ..paths import cache_dir
from ..shell import run
from ..versions import Pins
from . import dockerbuild, gobuild
from .steps import Step, content_hash

E2E_PACKAGE = "k8s.io/kubernetes/test/e2e"
AGNHOST_PACKAGE = "k8s.io/kubernetes/test/images/agnhost"
KUBECTL_PACKAGE = "k8s.io/kubernetes/cmd/kubectl"
GINKGO_PACKAGE = "github.com/onsi/ginkgo/v2/ginkgo"
BINARIES = ("e2e.test", "ginkgo", "kubectl")  # specs shell out to kubectl (--kubectl-path)


def upstream_bin_dir() -> Path:
    """Where e2e.test and ginkgo of the pinned version are, whichever path produced them."""
    return cache_dir() / "out" / "upstream"


def agnhost_image(pins: Pins) -> str:
    """Upstream's own name for agnhost: the specs ask for exactly this reference."""
    return f"registry.k8s.io/e2e-test-images/agnhost:{pins.raw['upstream']['agnhost']}"


def binaries_present() -> bool:
    return all((upstream_bin_dir() / b).is_file() for b in BINARIES)


def e2e_build(pins: Pins) -> gobuild.GoBuild:
    """e2e.test, agnhost and kubectl: all in the Kubernetes module, sharing its dependency graph."""
    return gobuild.GoBuild(
        "kubernetes-e2e", "k8s.io/kubernetes", pins.kubernetes, (E2E_PACKAGE, AGNHOST_PACKAGE, KUBECTL_PACKAGE),
        test_packages=(E2E_PACKAGE,), rename={E2E_PACKAGE: "e2e.test"},
        ldflags=gobuild.k8s_ldflags(pins), staging_replaces=True, godebug=pins.kubernetes_godebug)


def ginkgo_build(pins: Pins) -> gobuild.GoBuild:
    return gobuild.GoBuild("ginkgo", "github.com/onsi/ginkgo/v2", pins.raw["upstream"]["ginkgo"], (GINKGO_PACKAGE,))


def check_pins_match_module(pins: Pins, src: Path | None = None) -> None:
    """The ginkgo and agnhost pins must be what the pinned Kubernetes itself uses: a Kubernetes
    bump that forgets them fails here, naming both versions, instead of running a mismatched CLI
    or specs that wait for an image no one built."""
    src = src or gobuild.module_dir("k8s.io/kubernetes", pins.kubernetes)
    gomod = (src / "go.mod").read_text()
    found = re.search(r"^\s*github\.com/onsi/ginkgo/v2 (\S+)", gomod, flags=re.M)
    manifest = (src / "test" / "utils" / "image" / "manifest.go").read_text()
    tag = re.search(r'configs\[Agnhost\] = Config\{[^,]+, "agnhost", "([^"]+)"\}', manifest)
    wrong = []
    if not found or found.group(1) != pins.raw["upstream"]["ginkgo"]:
        wrong.append(f"[upstream].ginkgo is {pins.raw['upstream']['ginkgo']}, Kubernetes {pins.kubernetes} "
                     f"requires {found.group(1) if found else '(not found in go.mod)'}")
    if not tag or tag.group(1) != pins.raw["upstream"]["agnhost"]:
        wrong.append(f"[upstream].agnhost is {pins.raw['upstream']['agnhost']}, Kubernetes {pins.kubernetes}'s "
                     f"e2e uses {tag.group(1) if tag else '(not found in manifest.go)'}")
    if wrong:
        raise BuildFailed("proxylab/pins.toml disagrees with the pinned Kubernetes module: " + "; ".join(wrong))


def _install_binaries(sources: dict[str, Path]) -> None:
    out = upstream_bin_dir()
    out.mkdir(parents=True, exist_ok=True)
    for name, src in sources.items():
        tmp = out / f".{name}.tmp"
        shutil.copy2(src, tmp)
        tmp.chmod(0o755)
        tmp.replace(out / name)


def _agnhost_context(pins: Pins, agnhost_binary: Path) -> Path:
    ctx = dockerbuild.context_dir("agnhost")
    porter = gobuild.module_dir("k8s.io/kubernetes", pins.kubernetes) / "test" / "images" / "agnhost" / "porter"
    for name in ("localhost.crt", "localhost.key"):
        shutil.copy2(porter / name, ctx / name)
        (ctx / name).chmod(0o644)
    shutil.copy2(agnhost_binary, ctx / "agnhost")
    return ctx


def offline_steps(pins: Pins, base: str, base_key: str, go: str) -> list[Step]:
    """Build e2e.test + agnhost, ginkgo, install them, and the agnhost image (Debian based)."""
    e2e, ginkgo = e2e_build(pins), ginkgo_build(pins)
    image = agnhost_image(pins)
    template = dockerbuild.TEMPLATES / "agnhost.Dockerfile.j2"
    e2e_key = content_hash(e2e.cache_inputs(), ginkgo.cache_inputs(), go)
    image_key = content_hash(e2e_key, base_key, template)

    def build_binaries() -> None:
        check_pins_match_module(pins)
        gobuild.build(ginkgo)
        gobuild.build(e2e)
        _install_binaries({"e2e.test": e2e.out_dir / "e2e.test", "ginkgo": ginkgo.out_dir / "ginkgo",
                           "kubectl": e2e.out_dir / "kubectl"})

    def build_image() -> None:
        ctx = _agnhost_context(pins, e2e.out_dir / "agnhost")
        dockerbuild.build(ctx, "agnhost.Dockerfile.j2", [image], base=base, label=dockerbuild.label_for(image_key))

    return [
        Step("upstream-e2e", e2e_key, build_binaries,
             f"e2e.test, agnhost, kubectl of Kubernetes {pins.kubernetes}, ginkgo {ginkgo.version} (~20 min cold)",
             lambda: binaries_present() and e2e.outputs_exist()),
        Step("image-agnhost", image_key, build_image, f"{image} (Debian, agnhost from the module)",
             lambda: docker.image_label(image, dockerbuild.KEY_LABEL) == image_key),
    ]


def conformance_image(pins: Pins) -> str:
    return f"{pins.raw['upstream']['conformance_image']}:{pins.kubernetes}"


def pull_steps(pins: Pins) -> list[Step]:
    """Copy e2e.test, ginkgo and kubectl out of the conformance image; pull agnhost."""
    conformance = conformance_image(pins)
    image = agnhost_image(pins)

    def copy_binaries() -> None:
        run(["docker", "pull", conformance], timeout=DOCKER_PULL_TIMEOUT_S, hint=f"could not pull {conformance}; try `--offline`")
        created = run(["docker", "create", conformance]).stdout.strip()
        staging = cache_dir() / "ctx" / "conformance"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            for name in BINARIES:
                run(["docker", "cp", f"{created}:/usr/local/bin/{name}", str(staging / name)],
                    hint=f"{conformance} has no /usr/local/bin/{name}")
        finally:
            run(["docker", "rm", "-f", created], check=False)
        _install_binaries({name: staging / name for name in BINARIES})

    def pull_agnhost() -> None:
        run(["docker", "pull", image], timeout=DOCKER_PULL_TIMEOUT_S, hint=f"could not pull {image}; try `--offline`")

    return [
        Step("pull-upstream-e2e", content_hash("pull", conformance), copy_binaries,
             f"e2e.test, ginkgo, kubectl from {conformance}", binaries_present),
        Step("pull-agnhost", content_hash("pull", image), pull_agnhost, image,
             lambda: docker.image_exists(image)),
    ]


def missing_message(pins: Pins) -> str | None:
    """Why the upstream suite cannot run yet (naming the build step), or None when it can."""
    if not binaries_present():
        return (f"e2e.test/ginkgo/kubectl of Kubernetes {pins.kubernetes} not found in {upstream_bin_dir()}; "
                "run `proxylab images build` (step upstream-e2e offline, pull-upstream-e2e on the pull path)")
    if not docker.image_exists(agnhost_image(pins)):
        return (f"image {agnhost_image(pins)} not found; run `proxylab images build` "
                "(step image-agnhost offline, pull-agnhost on the pull path)")
    return None

