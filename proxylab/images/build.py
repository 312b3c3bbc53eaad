"""`proxylab images build`: every image a cluster needs, by pulling or by building offline."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from .. import docker
from ..constants import DOCKER_PULL_TIMEOUT_S
from ..errors import BuildFailed
from ..hosttools import apt_install, go_version, registry_reachable
from ..modes import OfflineImageContext, all_modes
from ..paths import bin_dir, cache_dir, kind_binary
from ..shell import run
from ..versions import Pins, load_pins
from . import dockerbuild, gobuild, node, pyimage, registryimage, rootfs, upstream
from .catalog import Catalog
from .steps import Step, StepRunner, content_hash

STRATEGIES = ("auto", "pull", "offline")


def resolve_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise BuildFailed(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if strategy == "auto":
        return "pull" if registry_reachable() else "offline"
    return strategy


def _image_present(ref: str, key: str) -> bool:
    return docker.image_label(ref, dockerbuild.KEY_LABEL) == key


def _go_step(spec: gobuild.GoBuild, go: str) -> Step:
    return Step(spec.name, content_hash(spec.cache_inputs(), go),
                lambda: gobuild.build(spec), f"{spec.module}@{spec.version} ({', '.join(spec.binary_names())})",
                spec.outputs_exist)


def _install_kind(spec: gobuild.GoBuild) -> None:
    """Copy the built kind CLI into place atomically (it may be running: 'text file busy')."""
    bin_dir().mkdir(parents=True, exist_ok=True)
    src, dst = spec.out_dir / "kind", kind_binary()
    if dst.exists() and dst.read_bytes() == src.read_bytes():
        return
    tmp = dst.with_suffix(".tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def _prepare_kind_base_context(pins: Pins, outs: dict[str, Path]) -> Path:
    """Context for the node base: kind's images/base/files (patched) plus our binaries."""
    ctx = dockerbuild.context_dir("kind-base")
    files = gobuild.module_dir("sigs.k8s.io/kind", pins.kind) / "images" / "base" / "files"
    shutil.copytree(files, ctx / "files")
    for path in [ctx / "files", *(ctx / "files").rglob("*")]:
        mode = 0o755 if path.is_dir() or "/bin/" in str(path) else 0o644
        path.chmod(mode | 0o200)  # module cache files are read-only
    config = ctx / "files" / "etc" / "containerd" / "config.toml"
    text = config.read_text()
    # No CAP_SYS_RESOURCE on such hosts: containers cannot lower oom_score_adj (host-notes).
    text = text.replace("restrict_oom_score_adj = false", "restrict_oom_score_adj = true")
    text = text.replace('sandbox_image = "registry.k8s.io/pause:3.10"', f'sandbox_image = "registry.k8s.io/pause:{pins.pause}"')
    config.write_text(text)
    for sub, names in (("bin", [("containerd", "containerd"), ("containerd", "ctr"),
                                ("containerd", "containerd-shim-runc-v2"), ("crictl", "crictl")]),
                       ("sbin", [("runc", "runc")]),
                       ("cni", [("cni-plugins", n) for n in ("ptp", "loopback", "bridge", "host-local", "portmap")])):
        (ctx / sub).mkdir()
        for step, binary in names:
            shutil.copy2(outs[step] / binary, ctx / sub / binary)
    return ctx


ECHO_SRC = Path(__file__).with_name("echo")


def echo_step(cat: Catalog, go: str) -> Step:
    """proxylab's own echo backend/probe: built from this repository on both paths."""
    key = content_hash(ECHO_SRC, go, dockerbuild.TEMPLATES / "scratch-binary.Dockerfile.j2")

    def build_echo() -> None:
        ctx = dockerbuild.context_dir("echo")
        run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(ctx / "echo"), "."], cwd=ECHO_SRC,
            env={"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}, hint="building proxylab's echo backend")
        dockerbuild.build(ctx, "scratch-binary.Dockerfile.j2", [cat.echo], binary="echo", path="/echo",
                          user="65532:65532", label=dockerbuild.label_for(key))

    return Step("image-echo", key, build_echo, f"{cat.echo} (echo backend + probe client)",
                lambda: _image_present(cat.echo, key))




def vegeta_spec(pins: Pins) -> gobuild.GoBuild:
    """vegeta, the open-loop HTTP load generator (fixed offered rate), from the Go module proxy."""
    module = "github.com/tsenart/vegeta/v12"
    return gobuild.GoBuild(name="vegeta", module=module, version=pins.raw["fastgen"]["vegeta"],
                           packages=(module,), rename={module: "vegeta"})


def locust_step(pins: Pins, cat: Catalog, go: str) -> Step:
    """The load generator image: base + Debian python3 + locust from wheels downloaded on the host,
    plus the compiled instruments: Debian's wrk and vegeta built from the Go module proxy.

    pip runs on the host (which reaches PyPI with its own CA bundle); the build only installs
    with --no-index, so no CA bundle ever enters the image.
    """
    version = pins.raw["locust"]["version"]
    vegeta = vegeta_spec(pins)
    wrk = pins.raw["fastgen"]["wrk_debian_package"]
    template = dockerbuild.TEMPLATES / "locust.Dockerfile.j2"
    key = content_hash(version, pyimage.PYTHON_TAG, pyimage.PLATFORMS, template, cat.base, vegeta.cache_inputs(), wrk,
                       go)

    def build_locust() -> None:
        if not vegeta.outputs_exist():
            gobuild.build(vegeta)
        ctx = dockerbuild.context_dir("locust")
        pyimage.download_wheels([f"locust=={version}"], ctx / "wheels")
        shutil.copy2(vegeta.out_dir / "vegeta", ctx / "vegeta")
        dockerbuild.build(ctx, "locust.Dockerfile.j2", [cat.locust], base=cat.base, version=version,
                          wrk_package=wrk, user="65532:65532", label=dockerbuild.label_for(key))

    return Step("image-locust", key, build_locust,
                f"{cat.locust} (locust {version}, python {pyimage.PYTHON_TAG}, wrk, vegeta {vegeta.version})",
                lambda: _image_present(cat.locust, key))


OPERATORS_SRC = Path(__file__).resolve().parents[2] / "operators"


def operator_step(pins: Pins, cat: Catalog, base_key: str) -> Step:
    """The fixture operator (kopf) image: built from this repository on both paths."""
    requirements = [f"kopf=={pins.raw['operator']['kopf']}", f"kubernetes=={pins.raw['operator']['kubernetes']}"]
    key = content_hash(OPERATORS_SRC, requirements, base_key, dockerbuild.TEMPLATES / "python-app.Dockerfile.j2")
    return Step("image-operator", key,
                lambda: pyimage.build_python_image(name="operator", ref=cat.operator, base=cat.base,
                                                   requirements=requirements, sources={"operators": OPERATORS_SRC},
                                                   label=dockerbuild.label_for(key)),
                f"{cat.operator} (kopf {pins.raw['operator']['kopf']})", lambda: _image_present(cat.operator, key))


def _with_cgo_toolchain(action: Callable[[], None]) -> Callable[[], None]:
    """cgo builds (runc) need gcc and libseccomp headers on the host: install them first."""
    def run_with_toolchain() -> None:
        apt_install("gcc", "libc6-dev", "libseccomp-dev")
        action()
    return run_with_toolchain


def _control_plane_image_steps(cat: Catalog, outs: dict[str, Path], go_keys: dict[str, str], pause_key: str,
                               pause_out: Path, base_key: str) -> list[Step]:
    """One image per control-plane component of the node image: kube-proxy on the Debian base (it
    needs iptables/nft), every other one a single static binary on scratch."""
    tmpl = dockerbuild.TEMPLATES
    binaries = {"kube-apiserver": outs["kubernetes"], "kube-controller-manager": outs["kubernetes"],
                "kube-scheduler": outs["kubernetes"], "etcd": outs["etcd"], "coredns": outs["coredns"],
                "pause": pause_out}
    source_key = {"etcd": go_keys["etcd"], "coredns": go_keys["coredns"], "pause": pause_key}
    steps: list[Step] = []
    for component, ref in cat.control_plane().items():
        if component == "kube-proxy":
            key = content_hash(go_keys["kubernetes"], base_key, tmpl / "kube-proxy.Dockerfile.j2", tmpl / "select-iptables")

            def build_proxy(ref: str = ref, key: str = key) -> None:
                ctx = dockerbuild.context_dir("kube-proxy")
                shutil.copy2(outs["kubernetes"] / "kube-proxy", ctx / "kube-proxy")
                shutil.copy2(tmpl / "select-iptables", ctx / "select-iptables")
                dockerbuild.build(ctx, "kube-proxy.Dockerfile.j2", [ref], base=cat.base, label=dockerbuild.label_for(key))
            action = build_proxy
        else:
            src = binaries[component]
            key = content_hash(source_key.get(component, go_keys["kubernetes"]), component, tmpl / "scratch-binary.Dockerfile.j2")
            path = {"coredns": "/coredns", "pause": "/pause"}.get(component, f"/usr/local/bin/{component}")

            def build_scratch(ref: str = ref, key: str = key, src: Path = src, component: str = component,
                              path: str = path) -> None:
                ctx = dockerbuild.context_dir(component)
                shutil.copy2(src / component, ctx / component)
                dockerbuild.build(ctx, "scratch-binary.Dockerfile.j2", [ref], binary=component, path=path,
                                  user="65535:65535" if component == "pause" else "",
                                  label=dockerbuild.label_for(key))
            action = build_scratch
        steps.append(Step(f"image-{component}", key, action, ref, functools.partial(_image_present, ref, key)))
    return steps


def _offline_steps(pins: Pins, cat: Catalog) -> list[Step]:
    go = go_version()
    if not go:
        raise BuildFailed("offline image builds need Go (none on PATH). Install Go >= "
                          f"{pins.go_minimum}, or use `proxylab images build --pull` where a registry answers")
    steps = _go_tool_steps(pins, go)
    outs = {s.name: s.out_dir for s in gobuild.go_builds(pins)}
    go_keys = {s.name: s.key for s in steps}
    base_key = content_hash(pins.debian_suite, rootfs.debian_mirror())
    steps += _node_image_steps(pins, cat, outs, go_keys, base_key)
    steps.append(echo_step(cat, go))
    steps.append(locust_step(pins, cat, go))
    steps.append(operator_step(pins, cat, base_key))
    steps.append(registryimage.offline_step(pins, cat, go))
    # Last: what the modes need beyond the node image (Cilium's images: the longest build).
    ctx = OfflineImageContext(pins, cat, go, base_key, outs["cni-plugins"], go_keys["cni-plugins"])
    steps += [s for m in all_modes() if m.implemented for s in m.offline_image_steps(ctx)]
    # Kubernetes' own e2e suite (suites/upstream): after everything a cluster needs.
    return _unique(steps + upstream.offline_steps(pins, cat.base, base_key, go))


def _go_tool_steps(pins: Pins, go: str) -> list[Step]:
    """One step per Go build of the pins (kind, containerd, Kubernetes, ...); cgo ones get a C toolchain."""
    steps: list[Step] = []
    for spec in gobuild.go_builds(pins):
        step = _go_step(spec, go)
        if spec.cgo:
            step.action = _with_cgo_toolchain(step.action)
        steps.append(step)
    return steps


def _node_image_steps(pins: Pins, cat: Catalog, outs: dict[str, Path], go_keys: dict[str, str],
                      base_key: str) -> list[Step]:
    """pause, the Debian base, kind's base image, the control-plane images and the node image that
    preloads them, in that order (each keyed by what it is built from)."""
    pause_out = cache_dir() / "out" / "pause"
    pause_key = content_hash(pins.pause, pins.kubernetes)
    steps = [Step("pause", pause_key, lambda: gobuild.build_pause(pins, pause_out),
                  f"pause {pins.pause} (gcc -static)", lambda: (pause_out / "pause").is_file())]
    steps.append(Step("base-image", base_key,
                      lambda: rootfs.build_base_image(pins.debian_suite, cat.base, dockerbuild.label_for(base_key)),
                      f"{cat.base} (debootstrap {pins.debian_suite})", lambda: _image_present(cat.base, base_key)))

    kb_key = content_hash(base_key, dockerbuild.TEMPLATES / "kind-base.Dockerfile.j2", pins.kind, pins.pause,
                          [go_keys[n] for n in ("containerd", "runc", "crictl", "cni-plugins")])

    def build_kind_base() -> None:
        ctx = _prepare_kind_base_context(pins, outs)
        dockerbuild.build(ctx, "kind-base.Dockerfile.j2", [cat.node_base], base=cat.base,
                          label=dockerbuild.label_for(kb_key))

    steps.append(Step("kind-base-image", kb_key, build_kind_base, f"{cat.node_base} (systemd, containerd, runc, CNI)",
                      lambda: _image_present(cat.node_base, kb_key)))

    component_steps = _control_plane_image_steps(cat, outs, go_keys, pause_key, pause_out, base_key)
    steps += component_steps
    node_key = content_hash(kb_key, go_keys["kubernetes"], [s.key for s in component_steps], Path(node.__file__))
    images = list(cat.control_plane().values())
    steps.append(Step("node-image", node_key,
                      lambda: node.assemble(node_base=cat.node_base, k8s_bin=outs["kubernetes"], version=pins.kubernetes,
                                            images=images, ref=cat.node, key=node_key),
                      f"{cat.node} (preloaded: {len(images)} images)", lambda: _image_present(cat.node, node_key)))
    return steps


def _unique(steps: list[Step]) -> list[Step]:
    """``steps`` without repeats of a name (two modes may need the same image), in order."""
    by_name: dict[str, Step] = {}
    for step in steps:
        by_name.setdefault(step.name, step)
    return list(by_name.values())


def _pull_steps(pins: Pins, cat: Catalog) -> list[Step]:
    def pull(src: str, dst: str) -> None:
        run(["docker", "pull", src], timeout=DOCKER_PULL_TIMEOUT_S, hint=f"could not pull {src}; try `--offline`")
        run(["docker", "tag", src, dst])

    steps = []
    for src, dst in ((pins.kind_node_image, cat.node), (f"docker.io/library/debian:{pins.debian_suite}-slim", cat.base)):
        key = content_hash("pull", src)
        steps.append(Step(f"pull-{dst.split('/')[-1].split(':')[0]}", key, functools.partial(pull, src, dst),
                          f"{src} -> {dst}", functools.partial(docker.image_exists, dst)))
    return steps


def build_all(strategy: str = "auto") -> str:
    """Obtain every image; returns the strategy used ('pull' or 'offline')."""
    docker.require_engine()
    pins = load_pins()
    cat = Catalog(pins)
    chosen = resolve_strategy(strategy)
    kind_spec = next(s for s in gobuild.go_builds(pins) if s.name == "kind")
    if chosen == "offline":
        steps = _offline_steps(pins, cat)
    else:
        go = go_version()
        if not go:
            raise BuildFailed("the kind CLI is built from the Go module proxy on both paths; install Go "
                              f">= {pins.go_minimum}")
        pulled = _pull_steps(pins, cat)
        steps = [_go_step(kind_spec, go), *pulled, echo_step(cat, go), locust_step(pins, cat, go),
                 operator_step(pins, cat, pulled[-1].key), registryimage.pull_step(pins, cat)]
        steps = _unique(steps + [s for m in all_modes() if m.implemented for s in m.pull_image_steps(pins, cat, go)]
                        + upstream.pull_steps(pins))
    print(f"images: strategy {chosen} (requested {strategy}); cache {cache_dir()}", flush=True)
    runner = StepRunner(len(steps))
    for step in steps:
        runner.run(step)
    _install_kind(kind_spec)
    (cache_dir() / "strategy").write_text(chosen + "\n")
    print(f"images: {len(runner.built)} built, {len(runner.cached)} cached; node image {cat.node}", flush=True)
    return chosen


def last_strategy() -> str:
    path = cache_dir() / "strategy"
    return path.read_text().strip() if path.exists() else "unknown"
