"""`proxylab cluster switch-mode NAME --to MODE`: change a running cluster's proxy mode in place.

Users do this to production clusters (e.g. iptables -> nftables); proxylab does it the way they
would: change the proxy's configuration, roll its pods, and prove the new mode is in effect (the
same verification `cluster up` does). What can be switched is the modes' business
(:meth:`ProxyMode.switch_refusal`): today kube-proxy's proxiers among themselves; a kube-proxy
replacement (Cilium) is refused, in either direction, with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from . import cluster, kube
from .cluster import ClusterInfo
from .errors import ClusterError, InvalidArgument, ProxylabError, UnsupportedMode
from .modes import ProxyMode


@dataclass(frozen=True)
class Switch:
    """What a switch did and how long each part took (seconds)."""

    cluster: str
    old: ProxyMode
    new: ProxyMode
    resync_s: float  # from deleting the proxy pods until every new one had synced
    total_s: float
    evidence: dict[str, Any]


def check_switch(current: ProxyMode, target_name: str) -> ProxyMode:
    """The target mode, if a cluster running ``current`` can be switched to it (pure apart from
    the host check); else UnknownMode, InvalidArgument or UnsupportedMode saying why."""
    target = ProxyMode.parse(target_name)
    if target is current:
        raise InvalidArgument(f"the cluster already runs {current.value}; nothing to switch")
    refusal = current.switch_refusal(target)
    if refusal:
        raise UnsupportedMode(f"cannot switch {current.value} -> {target.value}: {refusal}")
    if not target.implemented:
        raise UnsupportedMode(f"mode {target.value} is not implemented in proxylab yet")
    ok, reason = target.host_support()
    if not ok:
        raise UnsupportedMode(f"cannot switch to {target.value}: this host cannot run it: {reason}")
    return target


def switch(name: str, target_name: str, say: Any = print) -> Switch:
    """Switch the running cluster ``name`` to ``target_name``; records the new mode in its state."""
    info = cluster.load(cluster.validate_name(name))
    target = check_switch(info.mode, target_name)
    return switch_cluster(info, target, say)


def switch_cluster(info: ClusterInfo, target: ProxyMode, say: Any = print) -> Switch:
    """Reconfigure, roll the proxy pods, wait for their first sync, verify; then record the mode.

    The recorded mode changes only after verification passed: a cluster whose switch failed half
    way keeps its old mode in `cluster list` and the error says what was seen."""
    t0 = time.monotonic()
    api = kube.api_client(info.kubeconfig)
    old = info.mode
    target.prepare_host()
    old.reconfigure_proxy(api, target)
    say(f"cluster {info.name}: proxy configured for {target.value}; restarting it on {len(info.nodes)} nodes")
    try:
        restart = target.restart_proxy(api, info.nodes)
        synced = target.wait_proxy_resynced(api, restart)
        evidence = target.verify(info.kubeconfig, info.nodes)
    except ProxylabError as exc:
        raise ClusterError(f"switching {info.name} {old.value} -> {target.value} failed: {exc}. "
                           f"{_roll_back(api, info, old, target)}") from exc
    cluster.record_mode(info.name, target)
    total = time.monotonic() - t0
    say(f"cluster {info.name}: switched {old.value} -> {target.value}, verified on {len(info.nodes)} nodes "
        f"({total:.0f}s)")
    return Switch(info.name, old, target, round(max(synced.values()) - restart.deleted_at, 3), round(total, 3),
                  evidence)


def _roll_back(api: Any, info: ClusterInfo, old: ProxyMode, target: ProxyMode) -> str:
    """After a failed switch: the old configuration again, its pods rolled and verified; what happened."""
    try:
        target.reconfigure_proxy(api, old)
        old.wait_proxy_resynced(api, old.restart_proxy(api, info.nodes))
        old.verify(info.kubeconfig, info.nodes)
    except ProxylabError as exc:
        return (f"Rolling back to {old.value} failed too ({exc}); the cluster's proxy is in an unknown state: "
                f"recreate it (`proxylab cluster down {info.name}`, then `cluster up --mode {old.value}`)")
    return f"It was rolled back to {old.value} and verified."
