"""Go binaries built from the Go module proxy, each in a throw-away wrapper module.

Why a wrapper module: `go install mod@version` refuses modules whose go.mod has `replace`
directives (Kubernetes, etcd). A wrapper that *requires* the module builds it like a dependency,
where its replaces do not apply; for Kubernetes the staging modules are pointed at their
published versions (k8s.io/api v0.34.x for Kubernetes v1.34.x).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildFailed, CommandFailed
from ..paths import cache_dir
from ..shell import run, which
from ..versions import Pins


@dataclass(frozen=True)
class GoBuild:
    """One wrapper-module build: ``packages`` of ``module@version`` into ``out_dir``."""

    name: str
    module: str
    version: str
    packages: tuple[str, ...]  # full import paths
    tags: tuple[str, ...] = ()
    ldflags: str = "-s -w"
    cgo: bool = False
    outputs: tuple[str, ...] = ()  # binary names; defaults to the last path element of each package
    staging_replaces: bool = False  # Kubernetes: replace k8s.io staging modules by published ones
    godebug: str = ""
    rename: dict[str, str] = field(default_factory=dict)  # package -> binary name
    # Extra `go mod edit -replace` arguments ("old=new@version" or "old=/local/dir"): the module's
    # own replaces that point at other served modules, or a served stand-in for an unserved version.
    replaces: tuple[str, ...] = ()
    # Packages (of ``packages``) built as test binaries with `go test -c` (Kubernetes' e2e.test).
    test_packages: tuple[str, ...] = ()

    @property
    def work_dir(self) -> Path:
        return cache_dir() / "go" / self.name

    @property
    def out_dir(self) -> Path:
        return cache_dir() / "out" / self.name

    def binary_names(self) -> list[str]:
        return [self.rename.get(p, p.rstrip("/").split("/")[-1]) for p in self.packages]

    def outputs_exist(self) -> bool:
        return all((self.out_dir / b).is_file() for b in self.binary_names())

    def cache_inputs(self) -> dict[str, object]:
        inputs: dict[str, object] = {
            "module": self.module, "version": self.version, "packages": self.packages, "tags": self.tags,
            "ldflags": self.ldflags, "cgo": self.cgo, "staging": self.staging_replaces,
            "godebug": self.godebug, "rename": self.rename, "replaces": [_replace_key(r) for r in self.replaces]}
        if self.test_packages:  # only when set, so the keys of every earlier build stay as they were
            inputs["test_packages"] = self.test_packages
        return inputs


def _replace_key(replace: str) -> object:
    """A replace as a cache input: a local directory by its contents, never by its absolute path
    (the checkout's location differs between clones and CI, and must not force a rebuild)."""
    old, _, new = replace.partition("=")
    return (old, Path(new)) if new.startswith("/") else replace


def _go(args: list[str], cwd: Path, what: str, env: dict[str, str] | None = None) -> str:
    try:
        return run(["go", *args], cwd=cwd, env={"GOFLAGS": "-mod=mod -buildvcs=false", **(env or {})},
                   timeout=5400, hint=what).stdout
    except CommandFailed as exc:
        missing = re.findall(r"([\w./-]+@v[\w.+-]+): reading .*?(40[34] [A-Za-z ]+)", exc.output)
        if missing:
            names = ", ".join(f"{m} ({code})" for m, code in missing[:5])
            raise BuildFailed(
                f"the Go module proxy does not serve {names}, needed to build {what}. "
                "Pick another pinned version in proxylab/pins.toml, or use `proxylab images build --pull` "
                "where a registry answers."
            ) from exc
        raise


def build(spec: GoBuild) -> None:
    """Build ``spec`` into its out_dir (overwriting). Raises BuildFailed naming module@version."""
    if not which("go"):
        raise BuildFailed(f"offline build of {spec.module}@{spec.version} needs Go on PATH; install Go, "
                          "or use `proxylab images build --pull` where a registry answers")
    what = f"{spec.module}@{spec.version}"
    wd = spec.work_dir
    if wd.exists():
        shutil.rmtree(wd)
    wd.mkdir(parents=True)
    _go(["mod", "init", f"local/proxylab-{spec.name}"], wd, what)
    if spec.godebug:
        _go(["mod", "edit", f"-godebug=default={spec.godebug}"], wd, what)
    if spec.staging_replaces:
        info = json.loads(_go(["mod", "download", "-json", what], wd, what))
        gomod = Path(info["GoMod"]).read_text()
        staging_version = "v0." + spec.version.lstrip("v").split(".", 1)[1]
        for mod in re.findall(r"^\s*(k8s\.io/\S+) => \./staging/", gomod, flags=re.M):
            _go(["mod", "edit", f"-replace={mod}={mod}@{staging_version}"], wd, what)
    for replace in spec.replaces:
        _go(["mod", "edit", f"-replace={replace}"], wd, what)
    _go(["mod", "edit", f"-require={what}"], wd, what)
    _go(["get", *[f"{p}@{spec.version}" for p in spec.packages]], wd, what)
    out = spec.out_dir
    out.mkdir(parents=True, exist_ok=True)
    env = {"CGO_ENABLED": "1" if spec.cgo else "0"}
    flags = ["-trimpath", "-ldflags", spec.ldflags]
    if spec.tags:
        flags += ["-tags", ",".join(spec.tags)]
    for pkg, name in zip(spec.packages, spec.binary_names(), strict=True):
        verb = ["test", "-c"] if pkg in spec.test_packages else ["build"]
        _go([*verb, *flags, "-o", str(out / name), pkg], wd, f"{what} ({pkg})", env)


def k8s_ldflags(pins: Pins) -> str:
    values = {"gitVersion": pins.kubernetes, "gitMajor": "1", "gitMinor": str(pins.kubernetes_minor),
              "gitTreeState": "clean", "gitCommit": "0000000000000000000000000000000000000000",
              "buildDate": "1970-01-01T00:00:00Z"}
    parts = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        parts += [f"-X {pkg}.{k}={v}" for k, v in values.items()]
    return " ".join(parts)


def go_builds(pins: Pins) -> list[GoBuild]:
    """Every Go build of the offline path, smallest first (so problems surface early)."""
    k = "k8s.io/kubernetes/cmd/"
    return [
        GoBuild("kind", "sigs.k8s.io/kind", pins.kind, ("sigs.k8s.io/kind",)),
        GoBuild("cni-plugins", "github.com/containernetworking/plugins", pins.cni_plugins,
                tuple(f"github.com/containernetworking/plugins/plugins/{p}"
                      for p in ("main/ptp", "main/loopback", "main/bridge", "ipam/host-local", "meta/portmap"))),
        GoBuild("crictl", "sigs.k8s.io/cri-tools", pins.crictl, ("sigs.k8s.io/cri-tools/cmd/crictl",),
                ldflags=f"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={pins.crictl}"),
        GoBuild("runc", "github.com/opencontainers/runc", pins.runc, ("github.com/opencontainers/runc",),
                tags=("seccomp", "urfave_cli_no_docs"), cgo=True,
                ldflags=f"-X main.version={pins.runc.lstrip('v')}"),
        GoBuild("containerd", "github.com/containerd/containerd/v2", pins.containerd,
                tuple(f"github.com/containerd/containerd/v2/cmd/{c}"
                      for c in ("containerd", "ctr", "containerd-shim-runc-v2")),
                tags=("no_aufs", "no_zfs", "no_btrfs", "no_devmapper", "urfave_cli_no_docs"),
                ldflags=f"-s -w -X github.com/containerd/containerd/v2/version.Version={pins.containerd}"),
        GoBuild("etcd", "go.etcd.io/etcd/server/v3", pins.etcd, ("go.etcd.io/etcd/server/v3",),
                rename={"go.etcd.io/etcd/server/v3": "etcd"}),
        GoBuild("coredns", "github.com/coredns/coredns", pins.coredns, ("github.com/coredns/coredns",)),
        GoBuild("kubernetes", "k8s.io/kubernetes", pins.kubernetes,
                tuple(k + c for c in ("kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager",
                                      "kube-scheduler", "kube-proxy")),
                tags=("selinux", "notest"), ldflags=k8s_ldflags(pins), staging_replaces=True,
                godebug=pins.kubernetes_godebug),
    ]


def build_pause(pins: Pins, out_dir: Path) -> None:
    """The pause binary from build/pause/linux/pause.c of the pinned Kubernetes module (static gcc)."""
    info = json.loads(run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@{pins.kubernetes}"]).stdout)
    src = Path(info["Dir"]) / "build" / "pause" / "linux" / "pause.c"
    out_dir.mkdir(parents=True, exist_ok=True)
    run(["gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{pins.pause}", "-o", str(out_dir / "pause"), str(src)],
        hint="pause needs gcc and libc6-dev (static libc)")
    run(["strip", str(out_dir / "pause")])


def module_dir(module: str, version: str) -> Path:
    """Unpacked module source in the module cache (downloads it if needed)."""
    info = json.loads(run(["go", "mod", "download", "-json", f"{module}@{version}"],
                          hint=f"cannot download {module}@{version} from the Go module proxy").stdout)
    return Path(info["Dir"])
