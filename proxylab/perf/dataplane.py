"""The size of what the proxy programmed on a node, and the size limits of a mode's tables.

Per mode, counted on one node: kube-proxy iptables: the ``-A KUBE-*`` rules of the nat table;
nftables: the rules and the set/map elements of table ``ip kube-proxy``; IPVS: the virtual services
of ``ipvsadm -Ln``; eBPF (Cilium): the entries of the agent's ``cilium-dbg service list``. The
parsers are pure and unit-tested; the readers exec into the node (docker) or the agent pod.
"""

from __future__ import annotations

import json
from typing import Any

from .. import cilium, docker, kube
from ..errors import CommandFailed
from ..modes import ProxyMode

CILIUM_SLOTS_PER_SERVICE = 2  # a one-backend ClusterIP Service: its frontend slot + one backend slot


def count_iptables(save: str) -> dict[str, int]:
    """Rules and chains of kube-proxy in ``iptables-save -t nat`` output."""
    rules = sum(1 for ln in save.splitlines() if ln.startswith("-A KUBE-"))
    chains = sum(1 for ln in save.splitlines() if ln.startswith(":KUBE-"))
    return {"rules": rules, "chains": chains}


def count_nft(doc: dict[str, Any]) -> dict[str, int]:
    """Rules, chains and set/map elements in ``nft -j list table ip kube-proxy`` output."""
    items = doc.get("nftables") or []
    rules = sum(1 for i in items if "rule" in i)
    chains = sum(1 for i in items if "chain" in i)
    elements = sum(len(obj.get("elem") or []) for i in items for key in ("set", "map") if (obj := i.get(key)))
    return {"rules": rules, "chains": chains, "elements": elements}


def count_ipvs(listing: str) -> dict[str, int]:
    """Virtual services and real servers in ``ipvsadm -Ln`` output."""
    lines = listing.splitlines()
    services = sum(1 for ln in lines if ln.startswith(("TCP ", "UDP ", "SCTP ")))
    reals = sum(1 for ln in lines if ln.strip().startswith("->") and "RemoteAddress" not in ln)
    return {"services": services, "real_servers": reals}


def count_cilium(services: list[dict[str, Any]]) -> dict[str, int]:
    """Service entries and backend slots in ``cilium-dbg service list -o json`` output."""
    backends = sum(len((s.get("status") or {}).get("realized", {}).get("backend-addresses") or []) for s in services)
    return {"services": len(services), "backend_slots": backends}


def main_count(counts: dict[str, int]) -> int:
    """The one number per mode that grows with the number of Services: rules (iptables), rules +
    set/map elements (nftables), virtual services (IPVS), service entries (Cilium)."""
    if "elements" in counts:
        return counts["elements"] + counts["rules"]
    return counts.get("rules", counts.get("services", 0))


def sweep_limit(mode: ProxyMode) -> tuple[int | None, str]:
    """The largest number of one-backend Services the mode's tables hold as proxylab sets it up."""
    if mode is ProxyMode.EBPF:
        n = cilium.LB_MAP_MAX // CILIUM_SLOTS_PER_SERVICE
        return n, (f"Cilium's load-balancer maps hold {cilium.LB_MAP_MAX} entries (bpf-lb-map-max, set by "
                   f"proxylab/cilium.py), {CILIUM_SLOTS_PER_SERVICE} per one-backend Service")
    return None, "no table limit below the sweep's maximum"


def read(mode: ProxyMode, node: str, api: Any) -> dict[str, int]:
    """What the proxy programmed on ``node`` (counts; see the module docstring)."""
    if mode is ProxyMode.IPTABLES:
        return count_iptables(docker.exec_output(node, "iptables-save", "-t", "nat", timeout=120))
    if mode is ProxyMode.NFTABLES:
        return count_nft(json.loads(docker.exec_output(node, "nft", "-j", "list", "table", "ip", "kube-proxy", timeout=120)))
    if mode is ProxyMode.IPVS:
        return count_ipvs(docker.exec_output(node, "ipvsadm", "-Ln", timeout=120))
    pod = cilium.agent_pods(api)[node]
    res = kube.exec_in_pod(api, cilium.NAMESPACE, pod, ["cilium-dbg", "service", "list", "-o", "json"],
                           container="cilium-agent", timeout=180)
    if res.returncode != 0:
        raise CommandFailed(["cilium-dbg", "service", "list", "-o", "json"], res.returncode, res.stderr[-300:],
                            hint=f"in the Cilium agent {pod}")
    return count_cilium(json.loads(res.stdout))
