"""The size of what the proxy programmed on a node: pure counting of each proxy's listing.

Per mode, counted on one node: kube-proxy iptables: the ``-A KUBE-*`` rules of the nat table;
nftables: the rules and the set/map elements of table ``ip kube-proxy``; IPVS: the virtual services
of ``ipvsadm -Ln``; eBPF (Cilium): the entries of the agent's ``cilium-dbg service list``. The
parsers are pure and unit-tested; each mode's ``dataplane_counts`` (proxylab/modes/) reads its
proxy's listing on a node and counts it here.
"""

from __future__ import annotations

from typing import Any


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
