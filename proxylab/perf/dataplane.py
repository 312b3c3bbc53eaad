"""The size of what the proxy programmed on a node: pure counting of each proxy's listing.

Per mode, counted on one node: kube-proxy iptables: the ``-A KUBE-*`` rules of the nat table;
nftables: the rules and the set/map elements of table ``ip kube-proxy``; IPVS: the virtual services
of ``ipvsadm -Ln``; eBPF (Cilium): the entries of the agent's ``cilium-dbg service list``. The
parsers are pure and unit-tested; each mode's ``dataplane_counts`` (proxylab/modes/) reads its
proxy's listing on a node and counts it here, and its ``dataplane_entries`` picks out here what
programs one address (a Service that is gone must leave nothing behind).
"""

from __future__ import annotations

import itertools
import json
import re
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


# --- What the proxy holds for one address -------------------------------------------------------
# Each ``entries_*`` function returns the lines of a proxy's listing that program ``ip`` (and, given
# ``port``, that port of it): after a Service (or one of its ports) is gone, a correct proxy holds
# none. Lines are returned as the listing shows them, for the failure message.


def _ip_token(token: str, ip: str) -> bool:
    """``token`` names exactly ``ip`` (optionally as a host prefix ``ip/32`` or ``ip/128``)."""
    return token in (ip, f"{ip}/32", f"{ip}/128")


def entries_iptables(save: str, ip: str, port: int | None = None) -> list[str]:
    """The rules of ``iptables-save`` output (all tables: nat DNATs, filter REJECTs for a Service
    without endpoints) that match destination ``ip`` (and ``--dport port``)."""
    found = []
    for line in save.splitlines():
        if not line.startswith("-A "):
            continue
        tokens = line.split()
        pairs = list(itertools.pairwise(tokens))
        if not any(flag == "-d" and _ip_token(value, ip) for flag, value in pairs):
            continue
        if port is not None and not any(flag == "--dport" and value == str(port) for flag, value in pairs):
            continue
        found.append(line)
    return found


SERVICES_CHAIN = "KUBE-SERVICES"


def service_match_order(save: str, chain: str = SERVICES_CHAIN) -> list[str]:
    """The rules of ``chain`` in ``iptables-save -t nat`` output, in the order the kernel compares
    a new connection's first packet against them: ``"ip:port"`` for a rule that matches one
    ClusterIP and port, ``""`` for any other rule (e.g. the final jump to KUBE-NODEPORTS).

    iptables evaluates a chain rule by rule, so the cost of a connection to a Service grows with
    its index here; kube-proxy writes this chain in Go map order, i.e. in an order that changes
    from one rewrite to the next (see suites/performance/test_programming.py)."""
    order = []
    prefix = f"-A {chain} "
    for line in save.splitlines():
        if not line.startswith(prefix):
            continue
        pairs = list(itertools.pairwise(line.split()))
        dest = next((value.removesuffix("/32") for flag, value in pairs if flag == "-d"), None)
        port = next((value for flag, value in pairs if flag == "--dport"), None)
        order.append(f"{dest}:{port}" if dest and port else "")
    return order


def _nft_mentions_ip(value: Any, ip: str) -> bool:
    if isinstance(value, str):
        return _ip_token(value, ip)
    if isinstance(value, dict):
        if "prefix" in value and isinstance(value["prefix"], dict):
            return _ip_token(str(value["prefix"].get("addr")), ip)
        return any(_nft_mentions_ip(v, ip) for v in value.values())
    if isinstance(value, list):
        return any(_nft_mentions_ip(v, ip) for v in value)
    return False


def _nft_key_parts(key: Any) -> list[Any]:
    """A set/map element's key as its parts (``ip . proto . port`` is a concat)."""
    if isinstance(key, dict) and "elem" in key:  # an element with options (timeout, comment)
        return _nft_key_parts(key["elem"].get("val"))
    if isinstance(key, dict) and "concat" in key:
        return list(key["concat"])
    return [key]


def _nft_rule_dport(exprs: list[Any]) -> set[int]:
    """The destination ports a rule's expressions match (``tcp dport 80``, ``th dport 80``)."""
    ports = set()
    for expr in exprs:
        match = expr.get("match") if isinstance(expr, dict) else None
        left = (match or {}).get("left")
        if isinstance(left, dict) and (left.get("payload") or {}).get("field") == "dport":
            right = match.get("right") if match else None
            if isinstance(right, int):
                ports.add(right)
    return ports


def entries_nft(doc: dict[str, Any], ip: str, port: int | None = None) -> list[str]:
    """The set/map elements and rules of ``nft -j list table ip kube-proxy`` output that program
    ``ip`` (with ``port``: elements whose key also holds that port, rules that also match ``dport``)."""
    found = []
    for item in doc.get("nftables") or []:
        for kind in ("set", "map"):
            obj = item.get(kind)
            if not obj:
                continue
            for elem in obj.get("elem") or []:
                key, value = (elem[0], elem[1]) if kind == "map" and isinstance(elem, list) else (elem, None)
                parts = _nft_key_parts(key)
                if not any(_nft_mentions_ip(p, ip) for p in parts):
                    continue
                if port is not None and port not in parts:
                    continue
                shown = " . ".join(str(p) for p in parts) + (f" : {json.dumps(value, sort_keys=True)}" if value else "")
                found.append(f"{kind} {obj.get('name')} element {shown}")
        rule = item.get("rule")
        if rule and _nft_mentions_ip(rule.get("expr"), ip):
            if port is None or port in _nft_rule_dport(rule.get("expr") or []):
                found.append(f"chain {rule.get('chain')} rule {json.dumps(rule.get('expr'), sort_keys=True)[:300]}")
    return found


def entries_ipvs(listing: str, ip: str, port: int | None = None) -> list[str]:
    """The virtual services of ``ipvsadm -Ln`` output at ``ip`` (and ``port``), each with its real servers."""
    found: list[str] = []
    keep = False
    for line in listing.splitlines():
        if line.startswith(("TCP ", "UDP ", "SCTP ")):
            fields = line.split()
            addr, _, vport = fields[1].rpartition(":") if len(fields) > 1 else ("", "", "")
            keep = addr.strip("[]") == ip and (port is None or vport == str(port))
            if keep:
                found.append(line.strip())
        elif keep and line.strip().startswith("->"):
            found.append(line.strip())
        else:
            keep = False
    return found


def entries_ipvs_addresses(addr_show: str, ip: str) -> list[str]:
    """The lines of ``ip -o addr show dev kube-ipvs0`` binding ``ip`` (IPVS mode binds every
    ClusterIP there, so the node accepts traffic to it)."""
    return [ln.strip() for ln in addr_show.splitlines()
            if any(_ip_token(tok, ip) for tok in ln.split())]


def entries_cilium_lb(lb_list: dict[str, list[str]], ip: str, port: int | None = None) -> list[str]:
    """The frontends of ``cilium-dbg bpf lb list -o json`` (BPF service map: frontend
    ``ip:port[/proto][/i]`` -> its slots) at ``ip`` (and ``port``), with their slots."""
    host = f"[{ip}]" if ":" in ip else ip
    pattern = re.compile(re.escape(host) + r":(\d+)(?!\d)")
    found = []
    for frontend, slots in lb_list.items():
        m = pattern.match(frontend.strip())
        if m and (port is None or m.group(1) == str(port)):
            found.append(f"{frontend.strip()} -> {'; '.join(str(s).strip() for s in slots)}")
    return found


def middle_of(order: list[str], candidates: set[str]) -> int | None:
    """The index in ``order`` (:func:`service_match_order`) of the candidate Service closest to the
    middle of the chain, or None if no candidate is in it.

    For a linear lookup the middle is the cost of the average Service (a connection's cost grows
    linearly with its Service's index): measuring a Service there, rather than one wherever the last
    rewrite happened to put it, makes figures at different K and in different runs comparable."""
    middle = (len(order) - 1) / 2
    found = [i for i, dest in enumerate(order) if dest in candidates]
    return min(found, key=lambda i: abs(i - middle)) if found else None
