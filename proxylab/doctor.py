"""`proxylab doctor`: one line per host fact, each OK / MISSING / UNSUPPORTED / INFO with a next step."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from . import docker, guard, kernel, sysctl
from .hosttools import go_version, registry_reachable
from .modes import all_modes
from .paths import kind_binary
from .versions import load_pins

OK, MISSING, UNSUPPORTED, INFO = "OK", "MISSING", "UNSUPPORTED", "INFO"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    required: bool = False  # a MISSING required check makes doctor exit non-zero

    @property
    def failed(self) -> bool:
        return self.required and self.status == MISSING


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def checks() -> list[Check]:
    out: list[Check] = []
    engine = docker.engine_version()
    out.append(Check("docker engine", OK if engine else MISSING,
                     f"Docker {engine}" if engine else "no engine answers; fix: sudo proxylab doctor --fix",
                     required=True))
    if engine:
        err = docker.privileged_error()
        out.append(Check("privileged containers", MISSING if err else OK,
                         f"`docker run --privileged` fails: {err}; fix: sudo proxylab doctor --fix "
                         "(installs a runtime wrapper that drops CAP_SYS_RESOURCE)" if err
                         else "docker run --privileged works", required=True))
    else:
        out.append(Check("privileged containers", MISSING, "needs a Docker engine first", required=True))
    cg = kernel.cgroup_version()
    out.append(Check("cgroups", INFO, {"v2": "cgroup v2 (unified)",
                                       "hybrid": "cgroup v1 controllers + cgroup2 (hybrid); node images use "
                                                 "Debian bookworm (systemd 252) and failCgroupV1=false",
                                       "v1": "cgroup v1 only"}[cg]))
    for mode in all_modes():
        ok, reason = mode.host_support()
        note = "" if mode.implemented else " (mode not implemented in proxylab yet)"
        out.append(Check(f"mode {mode.value}", OK if ok else UNSUPPORTED, reason + note))
    low = sysctl.missing()
    out.append(Check("host limits", INFO if low else OK,
                     "; ".join(f"{k.replace('/', '.')}={now} < {want}" for k, (now, want) in low.items())
                     + " (raised automatically by `cluster up`)" if low
                     else "inotify and conntrack: enough for several kind clusters and their benchmarks"))
    reach = registry_reachable()
    out.append(Check("registry", INFO, "registry.k8s.io answers: images are pulled (`images build --auto`)"
                     if reach else "no registry answers: images are built from pinned sources "
                                   "(`images build --auto` picks --offline)"))
    gv = go_version()
    minimum = load_pins().go_minimum
    if gv and _version_tuple(gv)[:2] >= _version_tuple(minimum)[:2]:
        out.append(Check("go toolchain", OK, f"go {gv} (offline builds need >= {minimum})"))
    else:
        out.append(Check("go toolchain", MISSING if not reach else INFO,
                         (f"go {gv} is older than {minimum}" if gv else "no `go` on PATH")
                         + "; offline image builds need it. Install Go >= " + minimum
                         + " or use `proxylab images build --pull` where a registry answers",
                         required=not reach))
    kind = kind_binary()
    out.append(Check("kind CLI", OK if kind.exists() else INFO,
                     str(kind) if kind.exists() else "not built yet; `proxylab images build` builds it"))
    ok, detail = guard.state()
    out.append(Check("containment guard", OK if ok else INFO, detail))
    return out


def as_json(items: list[Check]) -> list[dict[str, object]]:
    return [asdict(c) | {"failed": c.failed} for c in items]
