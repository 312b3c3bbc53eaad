"""Running the suites against a cluster proxylab did not create (``--kubeconfig PATH [--context]``).

The cluster is used as it is: nothing is created or deleted but the harness's own objects (which
carry the run label, proxylab/runlabels.py). What it runs is detected and recorded in results.json
(``run.cluster``): Kubernetes version, nodes, and the proxy mode from kube-proxy's configuration
(ConfigMap ``kube-system/kube-proxy`` and the DaemonSet's flags) or Cilium's kube-proxy
replacement (``kube-system/cilium-config``), "unknown" with the evidence when neither says.

A local kind cluster (its nodes are containers of this Docker engine) is recognised: docker-exec
node access works there, and because its traffic runs through this host the containment guard
(proxylab/guard.py) must cover its service and pod ranges before any test sends a packet.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from . import access, docker, guard
from .access import ClusterAccessError
from .cluster import NETWORK, ClusterInfo
from .errors import ContainmentError, InvalidArgument
from .modes import ProxyMode
from .modes.detect import DEFAULT_MODE, UNKNOWN, Detection, decide_mode
from .paths import state_dir
from .shell import run

PROVIDER_EXISTING = "existing"
KIND_LABEL = "io.x-k8s.kind.cluster"


def check_mode(given: ProxyMode | None, detected: Detection, flag: str = "--proxy-mode") -> ProxyMode:
    """The session's mode: the detected one, or ``given`` when it agrees (or nothing was detected).
    ClusterAccessError (one line) when they disagree or nothing can be used."""
    evidence = "; ".join(detected.evidence) or "no evidence"
    if given is None:
        if detected.mode == UNKNOWN:
            raise ClusterAccessError(f"the cluster's proxy mode could not be detected ({evidence}); pass {flag}")
        return ProxyMode.parse(detected.mode)
    if detected.mode not in (UNKNOWN, given.value):
        raise ClusterAccessError(f"{flag} {given.value} disagrees with the cluster, which runs "
                                 f"{detected.mode} ({evidence}); leave {flag} out to use the detected mode")
    return given


@dataclass(frozen=True)
class LocalKind:
    """The existing cluster is a kind cluster of this Docker engine."""

    name: str
    network: str


def local_kind(nodes: dict[str, str]) -> tuple[LocalKind | None, str]:
    """Whether every node (name -> InternalIP) is a running kind node container of this engine
    with that IP; (LocalKind, "") or (None, why not)."""
    if not nodes:
        return None, "the cluster has no nodes"
    if not docker.engine_version():
        return None, "no Docker engine answers on this host"
    kind_names, networks = set(), set()
    for node, ip in nodes.items():
        found = docker.inspect("container", node)
        if not found:
            return None, f"node {node} is not a container of this host's Docker engine"
        attrs = found[0]
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if KIND_LABEL not in labels or not (attrs.get("State") or {}).get("Running"):
            return None, f"container {node} is not a running kind node"
        nets = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
        match = [name for name, net in nets.items() if ip and (net or {}).get("IPAddress") == ip]
        if not match:
            return None, f"container {node} does not have the node's InternalIP {ip}"
        kind_names.add(labels[KIND_LABEL])
        networks.add(match[0])
    if len(kind_names) != 1 or len(networks) != 1:
        return None, f"the nodes belong to several kind clusters or networks ({sorted(kind_names)}, {sorted(networks)})"
    return LocalKind(kind_names.pop(), networks.pop()), ""


@dataclass
class ClusterRanges:
    """The cluster's service and pod address ranges, and where each was read."""

    service: list[str] = field(default_factory=list)
    pod: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _split_cidrs(value: object) -> list[str]:
    return [c.strip() for c in str(value or "").split(",") if c.strip()]


def ranges_from(kubeadm_cluster_config: str | None, node_pod_cidrs: Sequence[str], kube_proxy_conf: str | None,
                service_cidr_objects: Sequence[str]) -> ClusterRanges:
    """Service and pod ranges from every source that names them (pure; unit-tested)."""
    r = ClusterRanges()
    if kubeadm_cluster_config:
        net = (yaml.safe_load(kubeadm_cluster_config) or {}).get("networking") or {}
        if net.get("serviceSubnet"):
            r.service += _split_cidrs(net["serviceSubnet"])
            r.sources.append(f"kubeadm-config serviceSubnet {net['serviceSubnet']}")
        if net.get("podSubnet"):
            r.pod += _split_cidrs(net["podSubnet"])
            r.sources.append(f"kubeadm-config podSubnet {net['podSubnet']}")
    if service_cidr_objects:
        r.service += list(service_cidr_objects)
        r.sources.append(f"ServiceCIDR objects {', '.join(service_cidr_objects)}")
    if node_pod_cidrs:
        r.pod += list(node_pod_cidrs)
        r.sources.append(f"node podCIDRs {', '.join(node_pod_cidrs)}")
    if kube_proxy_conf:
        doc = yaml.safe_load(kube_proxy_conf) or {}
        if isinstance(doc, dict) and doc.get("clusterCIDR"):
            r.pod += _split_cidrs(doc["clusterCIDR"])
            r.sources.append(f"kube-proxy clusterCIDR {doc['clusterCIDR']}")
    r.service, r.pod = _dedup(r.service), _dedup(r.pod)
    return r


def _dedup(cidrs: list[str]) -> list[str]:
    return list(dict.fromkeys(str(ipaddress.ip_network(c, strict=False)) for c in cidrs))


def uncovered(cidrs: Sequence[str], routes: Sequence[str]) -> list[str]:
    """The ranges of ``cidrs`` that no route of ``routes`` contains (pure; unit-tested)."""
    nets = [ipaddress.ip_network(r, strict=False) for r in routes]
    out = []
    for cidr in cidrs:
        want = ipaddress.ip_network(cidr, strict=False)
        if not any(want.version == n.version and want.subnet_of(n) for n in nets):  # type: ignore[arg-type]
            out.append(str(want))
    return out


def _host_networks() -> list[str]:
    """The host's own connected networks (its interfaces' prefixes): never to be made unreachable."""
    res = run(["ip", "-o", "addr", "show"], check=False)
    out = []
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("inet", "inet6"):
            out.append(str(ipaddress.ip_interface(parts[3]).network))
    return out


def guarded_ranges(ranges: ClusterRanges) -> list[str]:
    """What the guard must cover for this cluster: its own ranges, and proxylab's fixed ones, i.e.
    the addresses the suites send to on purpose as "unprogrammed" (in 10.96.0.0/12 and
    10.244.0.0/16, which a cluster's own ranges need not contain: kind's default service range is a
    /16) and the upstream specs' external addresses (proxylab/guard.py)."""
    return _dedup(ranges.service + ranges.pod + list(guard.GUARDED_CIDRS))


def ensure_guard(ranges: ClusterRanges) -> list[str]:
    """Make the host's containment guard cover :func:`guarded_ranges` (installing routes for what
    it does not cover yet); the ranges newly guarded. ContainmentError when a range is unknown or
    cannot be guarded, so no test traffic starts without it."""
    if not ranges.service or not ranges.pod:
        what = "service" if not ranges.service else "pod"
        raise ContainmentError(f"could not read the cluster's {what} range ({'; '.join(ranges.sources) or 'no source'})"
                               ", so the host's containment guard cannot be checked; refusing to send traffic. "
                               "Expose it (kubeadm-config ConfigMap, node podCIDRs, ServiceCIDR objects)")
    wanted = guarded_ranges(ranges)
    missing = uncovered(wanted, guard.installed_routes())
    host = [ipaddress.ip_network(n) for n in _host_networks()]
    clash = [c for c in missing if any(ipaddress.ip_network(c).overlaps(h) for h in host)]
    if clash:
        raise ContainmentError(f"cluster range(s) {', '.join(clash)} overlap this host's own networks, so the "
                               "containment guard cannot make them unreachable; refusing to send traffic")
    if missing:
        guard.install(tuple(missing))
    still = uncovered(wanted, guard.installed_routes())
    if still:
        raise ContainmentError(f"containment routes for {', '.join(still)} are missing after installing them")
    return missing


@dataclass
class Existing:
    """What proxylab found in an existing cluster: the session's ClusterInfo and the record."""

    info: ClusterInfo
    doc: dict[str, Any]
    ranges: ClusterRanges
    local: LocalKind | None


def _configmap(core: client.CoreV1Api, name: str, key: str | None = None) -> Any:
    try:
        data = core.read_namespaced_config_map(name, "kube-system").data or {}
    except client.ApiException as exc:
        if exc.status in (403, 404):
            return None
        raise
    return data.get(key) if key else data


def _kube_proxy_ds(api: client.ApiClient) -> dict[str, Any] | None:
    try:
        ds = client.AppsV1Api(api).read_namespaced_daemon_set("kube-proxy", "kube-system")
    except client.ApiException as exc:
        if exc.status in (403, 404):
            return None
        raise
    out: dict[str, Any] = api.sanitize_for_serialization(ds)
    return out


def _service_cidr_objects(api: client.ApiClient) -> list[str]:
    try:
        items = client.NetworkingV1Api(api).list_service_cidr().items
    except client.ApiException:  # older clusters have no ServiceCIDR API; RBAC may forbid it
        return []
    return [c for item in items for c in (item.spec.cidrs or [])]


def _schedulable(node: Any) -> bool:
    """Whether test pods can land on ``node``: not cordoned, no NoSchedule/NoExecute taint."""
    taints = node.spec.taints or []
    return not node.spec.unschedulable and not any(t.effect in ("NoSchedule", "NoExecute") for t in taints)


def detect(api: client.ApiClient) -> tuple[Detection, dict[str, Any], ClusterRanges, dict[str, str]]:
    """(proxy mode, run.cluster facts, ranges, node name -> InternalIP) of the cluster behind ``api``."""
    core = client.CoreV1Api(api)
    with access.explained("reading the cluster's version and nodes", api):
        version = client.VersionApi(api).get_code().git_version
        nodes = core.list_node().items
    with access.explained("reading kube-system's kube-proxy and Cilium configuration", api):
        kp_conf = _configmap(core, "kube-proxy", "config.conf")
        detection = decide_mode(kp_conf, _kube_proxy_ds(api), _configmap(core, "cilium-config"))
        ranges = ranges_from(_configmap(core, "kubeadm-config", "ClusterConfiguration"),
                             [c for n in nodes for c in (n.spec.pod_cidrs or ([n.spec.pod_cidr] if n.spec.pod_cidr
                                                                                  else []))],
                             kp_conf, _service_cidr_objects(api))
    ips = {n.metadata.name: next((a.address for a in (n.status.addresses or []) if a.type == "InternalIP"), "")
           for n in nodes}
    facts = {"kubernetes_version": version, "node_count": len(nodes),
             "schedulable_nodes": sorted(n.metadata.name for n in nodes if _schedulable(n)),
             "detected_proxy_mode": detection.mode,
             "proxy_mode_evidence": detection.evidence, "service_cidrs": ranges.service, "pod_cidrs": ranges.pod}
    return detection, facts, ranges, ips


def open_cluster(kubeconfig: Path, context: str | None, given: ProxyMode | None, run_id: str) -> Existing:
    """Connect, detect, check the mode, write the session's own kubeconfig (the chosen context
    only). Creates nothing in the cluster. ClusterAccessError with one line on any problem."""
    api = access.connect(kubeconfig, context)
    chosen = access.choose_context(kubeconfig, context)
    detection, facts, ranges, ips = detect(api)
    mode = check_mode(given, detection)
    local, why_not = local_kind(ips)
    session_kubeconfig = access.write_minified(kubeconfig, chosen, state_dir() / "existing" / run_id / "kubeconfig")
    node_access = None if local else f"no node access: {why_not} (docker exec reaches only local kind nodes)"
    # A local kind cluster: every node (docker exec reaches each; ClusterInfo.workers leaves out
    # kind's control-plane node by its name). Elsewhere the nodes tests may pin pods to: those
    # without a NoSchedule taint.
    nodes = sorted(ips) if local else facts["schedulable_nodes"]
    info = ClusterInfo(name=local.name if local else chosen, mode=mode, kubeconfig=session_kubeconfig,
                       nodes=nodes, created=time.time(), up_seconds=0.0, provider=PROVIDER_EXISTING,
                       no_node_access=node_access, docker_network=local.network if local else None)
    doc = {"name": info.name, "provider": PROVIDER_EXISTING, "context": chosen, "kubeconfig": str(kubeconfig),
           "local_kind": local.name if local else None, "up_seconds": None, "nodes": info.nodes,
           "proxy_mode": mode.value, **facts}
    return Existing(info, doc, ranges, local)


def guard_local(ranges: ClusterRanges, say: Callable[[str], None] = print) -> dict[str, Any]:
    """:func:`ensure_guard`, said in one line; returns what ``run.cluster.containment`` records."""
    added = ensure_guard(ranges)
    covered = guarded_ranges(ranges)
    say(f"containment guard: covers {', '.join(covered)}" + (f" (routes added for {', '.join(added)})" if added else ""))
    return {"guarded": covered, "added": added, "sources": ranges.sources}


def prepare(existing: Existing, say: Any = print) -> None:
    """Before any test traffic: the permissions a run needs, and for a local kind cluster the
    containment guard over its ranges."""
    api = access.connect(existing.info.kubeconfig)
    access.require_permissions(api, access.RUN_PERMISSIONS, "a test run")
    if existing.local is not None:
        existing.doc["containment"] = guard_local(existing.ranges, say)
    else:
        existing.doc["containment"] = {"guarded": [], "reason": "not a local cluster: its traffic does not cross "
                                                                  "this host"}


def dumps(existing: Existing) -> str:
    return json.dumps(existing.doc, indent=2)


def forget(existing: Existing) -> None:
    """Remove the session's kubeconfig (a copy of the user's credential) at the end of the session."""
    shutil.rmtree(existing.info.kubeconfig.parent, ignore_errors=True)


DOCKER_NETWORK_ENV = "PROXYLAB_DOCKER_NETWORK"


def docker_network() -> str:
    """The Docker network of the session's node containers: proxylab's own, or a local kind
    cluster's (set by the session for an existing cluster)."""
    return os.environ.get(DOCKER_NETWORK_ENV) or NETWORK


def configure_session(kubeconfig: str | None, context: str | None, mode_name: str | None,
                      run_id: str) -> tuple[ProxyMode, Existing | None]:
    """The session's mode and, with ``kubeconfig``, the existing cluster (detected, nothing created).

    Without a kubeconfig: ``mode_name`` or iptables, and proxylab creates its cluster as before.
    ProxylabError (one line) for every refusal: --context without --kubeconfig, a kubeconfig that
    does not work, a mode that disagrees with the cluster's."""
    given = ProxyMode.parse(mode_name) if mode_name else None
    if kubeconfig is None:
        if context is not None:
            raise InvalidArgument("--context needs --kubeconfig (the file the context is in)")
        return given or ProxyMode.parse(DEFAULT_MODE), None
    found = open_cluster(Path(kubeconfig).expanduser(), context, given, run_id)
    if found.info.docker_network:
        os.environ[DOCKER_NETWORK_ENV] = found.info.docker_network
    return found.info.mode, found
