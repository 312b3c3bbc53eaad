"""Cluster lifecycle per proxy mode: `proxylab cluster up/down/list`.

Every cluster proxylab creates is named ``proxylab-*``, runs on its own docker network
(``proxylab``), keeps its kubeconfig (0600) and kind config under ``state_dir()/<name>/`` and
never touches the user's default kubeconfig. ``down --all`` finds clusters by name prefix, so it
also cleans up after a ``kill -9`` that left no state behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kubernetes.client import ApiClient

from . import cni, docker, guard, kindconfig, kube, ownership, sysctl
from .constants import KIND_COMMAND_TIMEOUT_S, KIND_SMALL_LOAD_TIMEOUT_S, NODES_READY_TIMEOUT_S
from .errors import ClusterError, ProxylabError, UnsupportedMode
from .images.catalog import Catalog
from .modes import InstallContext, ProxyMode
from .paths import kind_binary, state_dir
from .shell import elapsed, run
from .versions import Pins, load_pins
from .wait import wait_for

PREFIX = "proxylab-"
# kind's own limit (sigs.k8s.io/kind, create.go clusterNameMax): a hostname has at most 64
# characters and kind appends "-control-plane" (14) to the name for the control-plane node. kind
# only warns beyond it; proxylab refuses, before anything on the host is changed.
NAME_MAX = 50
_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NETWORK = "proxylab"  # KIND_EXPERIMENTAL_DOCKER_NETWORK: our own network, removed with the last cluster


@dataclass(frozen=True)
class ClusterInfo:
    name: str
    mode: ProxyMode
    kubeconfig: Path
    nodes: list[str]
    created: float
    up_seconds: float
    # "kind": created by proxylab; "existing": reached through a user's kubeconfig (proxylab/existing.py)
    provider: str = "kind"
    # Why this host has no view of the nodes (None: they are local kind containers on this engine)
    no_node_access: str | None = None
    # The Docker network of the node containers (None: not a local cluster)
    docker_network: str | None = NETWORK

    @property
    def workers(self) -> list[str]:
        """The nodes tests pin pods to. On a kind cluster (proxylab's or a local one it was given)
        all but the control-plane node, which kind names ``<cluster>-control-plane``; on any other
        cluster :attr:`nodes` already holds only the schedulable nodes (proxylab/existing.py)."""
        if self.docker_network is None:
            return list(self.nodes)
        return [n for n in self.nodes if not n.endswith("-control-plane")]

    def node_access_reason(self) -> str | None:
        """Why tests that need this host's view of the nodes (their containers, their Docker network)
        cannot run here, None when they can: the one place such tests ask (suites/conftest.py skips
        ``node_access`` tests with it). Commands on nodes go through proxylab/nodes instead."""
        return self.no_node_access

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["mode"] = self.mode.value
        d["kubeconfig"] = str(self.kubeconfig)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClusterInfo:
        return cls(name=str(d["name"]), mode=ProxyMode.parse(str(d["mode"])), kubeconfig=Path(str(d["kubeconfig"])),
                   nodes=[str(n) for n in d["nodes"]], created=float(d["created"]), up_seconds=float(d["up_seconds"]),
                   provider=str(d.get("provider", "kind")), no_node_access=d.get("no_node_access"),
                   docker_network=d.get("docker_network", NETWORK))


@dataclass(frozen=True)
class ListedCluster:
    name: str
    mode: str
    nodes: int
    kubeconfig: str


@contextlib.contextmanager
def host_lock() -> Iterator[None]:
    """Serialises creating clusters against removing the last one across processes, so a
    concurrent `down` can never take the guard routes or the network away from an `up` that is
    still creating its cluster."""
    state_dir().mkdir(parents=True, exist_ok=True)
    with (state_dir() / "host.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def validate_name(name: str) -> str:
    """``name`` if it is a valid cluster name (a lowercase DNS label of at most NAME_MAX characters,
    which is also a single, safe path component), else ClusterError saying what is allowed."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or len(name) > NAME_MAX:
        raise ClusterError(f"invalid cluster name {name!r}: use lowercase letters, digits and '-', starting and "
                           f"ending with a letter or digit, at most {NAME_MAX} characters with the {PREFIX!r} prefix "
                           f"(e.g. {PREFIX}iptables)")
    return name


def cluster_dir(name: str) -> Path:
    """``state_dir()/clusters/<name>``; refuses any name whose path would leave that directory."""
    root = (state_dir() / "clusters").resolve()
    path = (root / validate_name(name)).resolve()
    if path.parent != root:
        raise ClusterError(f"cluster name {name!r} resolves outside {root} ({path}); refusing to use it")
    return path


def _kind(*args: str, timeout: float = KIND_COMMAND_TIMEOUT_S, hint: str = "") -> str:
    kind = kind_binary()
    if not kind.exists():
        raise ClusterError(f"kind CLI not found at {kind}; run `proxylab images build` first")
    return run([str(kind), *args], env={"KIND_EXPERIMENTAL_DOCKER_NETWORK": NETWORK}, timeout=timeout, hint=hint).stdout


def kind_nodes(name: str) -> list[str]:
    """The node containers of kind cluster ``name`` (empty when there is no such cluster)."""
    text = _kind("get", "nodes", "--name", name)
    return [] if "No kind nodes" in text else text.split()


def kind_kubeconfig(name: str) -> str:
    """kind's kubeconfig (for this host) of cluster ``name``."""
    return _kind("get", "kubeconfig", "--name", name)


def kind_clusters() -> list[str]:
    if not kind_binary().exists() or not docker.engine_version():
        return []
    return [c for c in _kind("get", "clusters").split() if c and "No kind clusters" not in c]


def normalise_name(name: str | None, mode: ProxyMode) -> str:
    """The cluster name for ``--name`` (``proxylab-`` prefixed; default ``proxylab-<mode>``), validated."""
    if not name:
        return f"{PREFIX}{mode.value}"
    return validate_name(name if name.startswith(PREFIX) else PREFIX + name)


def check_mode_supported(mode: ProxyMode) -> None:
    """Fail fast, before anything is created, when the host or proxylab cannot run ``mode``."""
    if not mode.implemented:
        raise UnsupportedMode(f"mode {mode.value} is not implemented in proxylab yet (see the eBPF issue)")
    ok, reason = mode.host_support()
    if not ok:
        raise UnsupportedMode(f"mode {mode.value} cannot run on this host: {reason}")


@dataclass(frozen=True)
class _Plan:
    """A checked request for a cluster: everything `up` decided before changing the host."""

    name: str
    mode: ProxyMode
    workers: int
    cdir: Path
    pins: Pins
    image: str
    t0: float
    keep: bool  # release ownership once up: the cluster outlives this process (proxylab/ownership.py)

    @property
    def kubeconfig(self) -> Path:
        return self.cdir / "kubeconfig"

    def say(self, text: str) -> None:
        print(f"cluster {self.name}: {text} [{elapsed(self.t0)}]", flush=True)


def up(mode: ProxyMode, workers: int = 2, name: str | None = None, *, keep: bool = False) -> ClusterInfo:
    """Create a kind cluster running ``mode``, verified; on any failure export logs and remove it.

    The calling process owns the cluster until it is deleted (a run killed on the way leaves a
    cluster that the next ``up`` of that name removes); with ``keep`` it is released once up, to
    outlive this process (see proxylab/ownership.py)."""
    plan = _check_request(mode, workers, name, time.monotonic(), keep)
    _prepare_host(plan)
    try:
        _create_kind_cluster(plan)
        nets = _wait_for_pod_cidrs(plan)
        features = plan.mode.install(InstallContext(plan.name, plan.kubeconfig, plan.cdir, nets, plan.pins,
                                                    lambda ref: load_image(plan.name, ref), plan.t0))
        plan.say(f"CNI configured on {len(nets)} nodes")
        _load_fixture_images(plan)
        _wait_for_nodes_and_dns(plan)
        features |= plan.mode.verify(plan.kubeconfig, [n.name for n in nets])
        _check_guard()
        return _record(plan, [n.name for n in nets], features)
    except BaseException:
        _remove_failed(plan)
        raise


def _check_request(mode: ProxyMode, workers: int, name: str | None, t0: float, keep: bool) -> _Plan:
    """Everything that can be refused is refused here, before anything on the host changes (except
    removing a cluster of this name that a killed run left behind: see proxylab/ownership.py)."""
    name = normalise_name(name, mode)  # first: a bad name must not get as far as a host change
    cdir = cluster_dir(name)
    check_mode_supported(mode)
    if workers < 0 or workers > 10:
        raise ClusterError(f"--workers must be between 0 and 10, got {workers}")
    docker.require_engine()
    pins = load_pins()
    image = Catalog(pins).node
    if not docker.image_exists(image):
        raise ClusterError(f"node image {image} not found; run `proxylab images build` first")
    if name in kind_clusters():
        stale = ownership.stale_reason(_state_of(name))
        if stale is None:
            raise ClusterError(f"a kind cluster named {name!r} already exists; use another --name, "
                               f"reuse it, or remove it with `proxylab cluster down {name}`")
        print(f"cluster {name}: removing it, left over from an interrupted run ({stale})", flush=True)
        _delete(name)
    return _Plan(name, mode, workers, cdir, pins, image, t0, keep)


def _prepare_host(plan: _Plan) -> None:
    """The mode's kernel modules, the host's limits, a fresh state directory with the kind config."""
    plan.mode.prepare_host()
    for change in sysctl.raise_limits():
        print(f"host: {change}", flush=True)
    if plan.cdir.exists():
        shutil.rmtree(plan.cdir)
    plan.cdir.mkdir(parents=True)
    ownership.claim(plan.cdir)
    (plan.cdir / "kind.yaml").write_text(kindconfig.render(plan.name, plan.mode, plan.workers, plan.pins))


def _create_kind_cluster(plan: _Plan) -> None:
    """The containment guard, then `kind create cluster` (under the host lock, see host_lock)."""
    print(f"cluster {plan.name}: creating ({plan.mode.value}, 1 control plane + {plan.workers} workers) ...",
          flush=True)
    with host_lock():
        added = guard.install()
        if added:
            print(f"containment guard: unreachable routes added for {', '.join(added)}", flush=True)
        _kind("create", "cluster", "--name", plan.name, "--config", str(plan.cdir / "kind.yaml"), "--image",
              plan.image, "--kubeconfig", str(plan.kubeconfig), "--wait", "0s", timeout=KIND_COMMAND_TIMEOUT_S,
              hint="see the kind output above; `proxylab doctor` checks the host")
    os.chmod(plan.kubeconfig, 0o600)


def _wait_for_pod_cidrs(plan: _Plan) -> list[cni.NodeNet]:
    api = kube.api_client(plan.kubeconfig)
    expected = plan.workers + 1
    wait_for(lambda: _pod_cidrs_assigned(api, expected), timeout=120, what=f"podCIDRs on {expected} nodes")
    return cni.node_nets(api)


def load_image(name: str, ref: str, timeout: float = KIND_COMMAND_TIMEOUT_S) -> None:
    """Make the local image ``ref`` available on every node of cluster ``name`` (kind load)."""
    _kind("load", "docker-image", ref, "--name", name, timeout=timeout)


def _load_fixture_images(plan: _Plan) -> None:
    for fixture_image in Catalog(plan.pins).fixture_images():
        if not docker.image_exists(fixture_image):
            raise ClusterError(f"image {fixture_image} not found; run `proxylab images build` first")
        load_image(plan.name, fixture_image, timeout=KIND_SMALL_LOAD_TIMEOUT_S)


def _wait_for_nodes_and_dns(plan: _Plan) -> None:
    api = kube.api_client(plan.kubeconfig)
    wait_for(lambda: kube.nodes_ready(api, plan.workers + 1), timeout=NODES_READY_TIMEOUT_S,
             what="all nodes Ready", interval=2)
    wait_for(lambda: kube.deployment_ready(api, "kube-system", "coredns"), timeout=NODES_READY_TIMEOUT_S,
             what="CoreDNS ready", interval=2)


def _check_guard() -> None:
    ok, detail = guard.state()
    if not ok:
        raise ClusterError(f"containment guard missing after cluster creation ({detail}); refusing to use "
                           "the cluster. Did something remove the host routes?")


def _record(plan: _Plan, nodes: list[str], features: dict[str, Any]) -> ClusterInfo:
    """cluster.json (and proxy-features.json when the mode reported any), then the closing line."""
    if features:
        (plan.cdir / "proxy-features.json").write_text(json.dumps(features, indent=2))
    info = ClusterInfo(plan.name, plan.mode, plan.kubeconfig, nodes, time.time(), round(time.monotonic() - plan.t0, 1))
    (plan.cdir / "cluster.json").write_text(json.dumps(info.to_json(), indent=2))
    if plan.keep:
        ownership.release(plan.cdir)
    plan.say(f"up, mode {plan.mode.value} verified on {len(nodes)} nodes")
    return info


def _remove_failed(plan: _Plan) -> None:
    """After a failed `up`: keep the logs, remove the cluster and, if it was the last, the host changes."""
    _export_logs(plan.name, plan.cdir / "logs")
    _delete(plan.name)
    with host_lock():
        for line in _cleanup_if_last():
            print(f"cleanup: {line}", flush=True)


def _pod_cidrs_assigned(api: ApiClient, expected: int) -> tuple[bool, str]:
    nets = kube.node_networks(api)
    with_cidr = [n for n, ip, c in nets if c and ip]
    return (len(nets) == expected and len(with_cidr) == expected,
            f"{len(with_cidr)}/{expected} nodes with podCIDR and InternalIP")


def _export_logs(name: str, dest: Path) -> None:
    try:
        _kind("export", "logs", str(dest), "--name", name, timeout=180)
        print(f"cluster {name}: logs exported to {dest}", flush=True)
    except (ProxylabError, OSError) as exc:  # best effort, on the way out of a failed `up`
        print(f"cluster {name}: could not export logs: {exc}", flush=True)


def _state_of(name: str) -> Path | None:
    """The state directory of a listed kind cluster, None for a name proxylab would not have given
    (such a cluster was not created by proxylab and has no state here)."""
    try:
        return cluster_dir(name)
    except ClusterError:
        return None


def _delete(name: str) -> None:
    if kind_binary().exists():
        run([str(kind_binary()), "delete", "cluster", "--name", name], check=False, timeout=300)
    cdir = _state_of(name)
    if cdir is not None and cdir.exists():
        logs = cdir / "logs"
        for child in cdir.iterdir():
            if child != logs:
                shutil.rmtree(child) if child.is_dir() else child.unlink()


def _cleanup_if_last() -> list[str]:
    """With no proxylab cluster left: remove the guard routes, helper containers and the network."""
    if any(c.startswith(PREFIX) for c in kind_clusters()):
        return []
    lines = []
    if docker.engine_version():
        ids = docker.container_ids(f"label={docker.LABEL}")
        if ids:
            run(["docker", "rm", "-f", *ids], check=False)
            lines.append(f"removed {len(ids)} helper containers")
        if docker.inspect("network", NETWORK):
            run(["docker", "network", "rm", NETWORK], check=False)
            lines.append(f"removed docker network {NETWORK}")
    removed = guard.remove()
    if removed:
        lines.append("removed containment routes for " + ", ".join(removed))
    return lines


def down(name: str | None) -> list[str]:
    """Delete one cluster (``name``) or, with None, every proxylab cluster."""
    if name is not None:
        validate_name(name)
    docker.require_engine()
    targets = [c for c in kind_clusters() if c.startswith(PREFIX)] if name is None else [name]
    lines = []
    for target in targets:
        if name is not None and target not in kind_clusters():
            raise ClusterError(f"no kind cluster named {target!r}; see `proxylab cluster list`")
        _delete(target)
        if (cdir := _state_of(target)) is not None:
            shutil.rmtree(cdir, ignore_errors=True)
        lines.append(f"deleted cluster {target}")
    with host_lock():
        lines += _cleanup_if_last()
    if name is None:
        shutil.rmtree(state_dir() / "clusters", ignore_errors=True)
    return lines or ["nothing to remove"]


def proxy_features(name: str) -> dict[str, object] | None:
    """What the mode's proxy was configured with and reports (ebpf: Cilium), or None."""
    path = cluster_dir(name) / "proxy-features.json"
    return json.loads(path.read_text()) if path.exists() else None


def load(name: str) -> ClusterInfo:
    path = cluster_dir(name) / "cluster.json"
    if not path.exists() or name not in kind_clusters():
        raise ClusterError(f"no running proxylab cluster named {name!r}; see `proxylab cluster list`")
    return ClusterInfo.from_json(json.loads(path.read_text()))


def record_mode(name: str, mode: ProxyMode) -> ClusterInfo:
    """Record that the running cluster ``name`` now runs ``mode`` (after `cluster switch-mode`)."""
    info = dataclasses.replace(load(name), mode=mode)
    path = cluster_dir(name) / "cluster.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info.to_json(), indent=2))
    tmp.replace(path)
    return info


def list_clusters() -> list[ListedCluster]:
    rows = []
    for name in kind_clusters():
        if not name.startswith(PREFIX):
            continue
        cdir = _state_of(name)
        path = cdir / "cluster.json" if cdir is not None else None
        if path is not None and path.exists():
            info = ClusterInfo.from_json(json.loads(path.read_text()))
            rows.append(ListedCluster(name, info.mode.value, len(info.nodes), str(info.kubeconfig)))
        else:
            rows.append(ListedCluster(name, "?", 0, "(no state: created by an interrupted run)"))
    return rows
