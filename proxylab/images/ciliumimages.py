"""The Cilium images (ebpf mode) and the helm CLI that renders Cilium's chart.

Offline, the agent and cilium-operator-generic are built from the Go module
``github.com/cilium/cilium`` at the ``[cilium]`` pin, in wrapper modules (gobuild.py), and packed
into images with upstream's names so the chart finds them on both paths:

- agent: proxylab's Debian base + Debian's clang/llvm (the agent compiles its datapath at runtime),
  iproute2, iptables, ipset, kmod, bpftool; the binaries; the BPF sources at /var/lib/cilium/bpf
  and the init scripts from the same module version.
- operator: the base + cilium-operator-generic.

The pull path pulls the upstream images of the same version instead. Envoy (cilium-envoy, a
separate C++ image) cannot be built here, so the chart is always rendered with it disabled.
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

MODULE = "github.com/cilium/cilium"
SHIM_DIR = Path(__file__).with_name("cilium") / "mcs-api-controllers"
GOBGP = "github.com/osrg/gobgp/v4"
MCS_CONTROLLERS = "sigs.k8s.io/mcs-api/controllers"
AGENT_BINARIES = {  # package under the module -> binary name in /usr/bin (upstream's names)
    "daemon": "cilium-agent",
    "cilium-dbg": "cilium-dbg",
    "cilium-health": "cilium-health",
    "cilium-health/responder": "cilium-health-responder",
    "tools/mount": "cilium-mount",
    "tools/sysctlfix": "cilium-sysctlfix",
    "plugins/cilium-cni": "cilium-cni",
}
# bpf/ entries upstream's `make install-bpf` leaves out (Makefile.defs BPF_SRCFILES_IGNORE).
BPF_IGNORE = ("tests", "complexity-tests", "custom", "Makefile", "Makefile.bpf", ".gitignore", "*.i", "*.s",
              ".rebuild_all")


def version(pins: Pins) -> str:
    return str(pins.raw["cilium"]["version"])


def build_substitutions(pins: Pins) -> dict[str, str]:
    """Dependencies of the pinned Cilium that the module proxy does not serve -> what replaced them."""
    return {f"{GOBGP} (cilium pins a v4.6.1 pseudo-version)": f"{GOBGP} {pins.raw['cilium']['gobgp_substitute']}",
            f"{MCS_CONTROLLERS} v0.5.2": "proxylab/images/cilium/mcs-api-controllers (one constant; MCS-API off)"}


def _ldflags(pins: Pins) -> str:
    return f"-s -w -X {MODULE}/pkg/version.ciliumVersion={version(pins).lstrip('v')}"


def go_builds(pins: Pins) -> list[gobuild.GoBuild]:
    """The agent-image binaries and the generic operator (separate: different build tags)."""
    v = version(pins)
    gobgp = f"{GOBGP}={GOBGP}@{pins.raw['cilium']['gobgp_substitute']}"
    agent_pkgs = tuple(f"{MODULE}/{p}" for p in AGENT_BINARIES)
    return [
        gobuild.GoBuild("cilium", MODULE, v, agent_pkgs, tags=("osusergo",), ldflags=_ldflags(pins),
                        rename={f"{MODULE}/{p}": b for p, b in AGENT_BINARIES.items()}, replaces=(gobgp,)),
        gobuild.GoBuild("cilium-operator", MODULE, v, (f"{MODULE}/operator",),
                        tags=("osusergo", "ipam_provider_operator"), ldflags=_ldflags(pins),
                        rename={f"{MODULE}/operator": "cilium-operator-generic"},
                        replaces=(gobgp, f"{MCS_CONTROLLERS}={SHIM_DIR}")),
    ]


def helm_build(pins: Pins) -> gobuild.GoBuild:
    helm = str(pins.raw["cilium"]["helm"])
    return gobuild.GoBuild("helm", "helm.sh/helm/v3", helm, ("helm.sh/helm/v3/cmd/helm",),
                           ldflags=f"-s -w -X helm.sh/helm/v3/internal/version.version={helm}")


def helm_binary(pins: Pins) -> Path:
    return helm_build(pins).out_dir / "helm"


def chart_dir(pins: Pins) -> Path:
    """install/kubernetes/cilium of the pinned module: the chart of exactly the images' version."""
    return gobuild.module_dir(MODULE, version(pins)) / "install" / "kubernetes" / "cilium"


def go_step(spec: gobuild.GoBuild, go: str) -> Step:
    return Step(spec.name, content_hash(spec.cache_inputs(), go), lambda: gobuild.build(spec),
                f"{spec.module}@{spec.version} ({', '.join(spec.binary_names())})", spec.outputs_exist)


def _present(ref: str, key: str) -> bool:
    return docker.image_label(ref, dockerbuild.KEY_LABEL) == key


def _agent_context(pins: Pins, agent_out: Path, loopback: Path) -> Path:
    ctx = dockerbuild.context_dir("cilium")
    src = gobuild.module_dir(MODULE, version(pins))
    (ctx / "bin").mkdir()
    for name in AGENT_BINARIES.values():
        if name != "cilium-cni":
            shutil.copy2(agent_out / name, ctx / "bin" / name)
    shutil.copy2(agent_out / "cilium-cni", ctx / "cilium-cni")
    shutil.copy2(loopback, ctx / "loopback")
    (ctx / "scripts").mkdir()
    for script in ("images/cilium/init-container.sh", "plugins/cilium-cni/install-plugin.sh",
                   "plugins/cilium-cni/cni-uninstall.sh"):
        shutil.copy2(src / script, ctx / "scripts" / Path(script).name)
    shutil.copytree(src / "bpf", ctx / "bpf", ignore=shutil.ignore_patterns(*BPF_IGNORE))
    for path in [ctx, *ctx.rglob("*")]:  # module cache files are read-only (0444): the scripts must run
        executable = path.is_dir() or path.parent.name in ("bin", "scripts") or path.name in ("cilium-cni", "loopback")
        path.chmod(0o755 if executable else 0o644)
    return ctx


def offline_steps(pins: Pins, cat: Catalog, go: str, base_key: str, loopback_dir: Path,
                  loopback_key: str) -> list[Step]:
    """Go builds (helm, agent, operator) and the two images, in dependency order."""
    helm, agent, operator = helm_build(pins), *go_builds(pins)
    steps = [go_step(helm, go), go_step(agent, go), go_step(operator, go)]
    tmpl = dockerbuild.TEMPLATES
    llvm = str(pins.raw["cilium"]["llvm"])
    agent_key = content_hash(steps[1].key, base_key, loopback_key, llvm, tmpl / "cilium.Dockerfile.j2", Path(__file__))

    def build_agent() -> None:
        ctx = _agent_context(pins, agent.out_dir, loopback_dir / "loopback")
        dockerbuild.build(ctx, "cilium.Dockerfile.j2", [cat.cilium], base=cat.base, llvm=llvm,
                          version=version(pins), label=dockerbuild.label_for(agent_key))

    op_key = content_hash(steps[2].key, base_key, tmpl / "cilium-operator.Dockerfile.j2")

    def build_operator() -> None:
        ctx = dockerbuild.context_dir("cilium-operator")
        shutil.copy2(operator.out_dir / "cilium-operator-generic", ctx / "cilium-operator-generic")
        dockerbuild.build(ctx, "cilium-operator.Dockerfile.j2", [cat.cilium_operator], base=cat.base,
                          label=dockerbuild.label_for(op_key))

    steps.append(Step("image-cilium", agent_key, build_agent,
                      f"{cat.cilium} (agent, clang-{llvm}, BPF sources)", lambda: _present(cat.cilium, agent_key)))
    steps.append(Step("image-cilium-operator", op_key, build_operator, f"{cat.cilium_operator}",
                      lambda: _present(cat.cilium_operator, op_key)))
    return steps


def pull_steps(pins: Pins, cat: Catalog, go: str) -> list[Step]:
    """Connected hosts: the upstream images of the pinned version (and helm, built as offline)."""
    def pull(ref: str) -> None:
        run(["docker", "pull", ref], timeout=DOCKER_PULL_TIMEOUT_S, hint=f"could not pull {ref}; try `--offline`")

    def pull_step(ref: str) -> Step:
        return Step(f"pull-{ref.split('/')[-1].split(':')[0]}", content_hash("pull", ref), lambda: pull(ref), ref,
                    lambda: docker.image_exists(ref))

    return [go_step(helm_build(pins), go), *(pull_step(ref) for ref in cat.cilium_images())]
