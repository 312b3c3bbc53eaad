"""Restarting a mode's proxy pods and waiting for their successors (what :meth:`ProxyMode.restart_proxy`
and :meth:`ProxyMode.wait_proxy_resynced` do for every mode whose proxy is a DaemonSet)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from ..errors import ClusterError
from ..wait import wait_for
from .base import ProxyPods, ProxyRestart

# node, its new pod's Ready time, the restart's moment -> when the new proxy had synced, or None
SyncedAt = Callable[[str, float, float], "float | None"]


def _pods_by_node(api: Any, pods: ProxyPods) -> dict[str, Any]:
    items = client.CoreV1Api(api).list_namespaced_pod(pods.namespace, label_selector=pods.selector).items
    return {p.spec.node_name: p for p in items if p.metadata.deletion_timestamp is None and p.spec.node_name}


def delete_proxy_pods(api: Any, pods: ProxyPods, nodes: list[str]) -> ProxyRestart:
    """Delete the proxy pod on each of ``nodes`` (refused, before deleting any, when a node has none)."""
    current = _pods_by_node(api, pods)
    missing = [n for n in nodes if n not in current]
    if missing:
        raise ClusterError(f"no {pods.daemonset} pod on {', '.join(missing)}; see "
                           f"`kubectl -n {pods.namespace} get pods -l {pods.selector} -o wide`")
    core = client.CoreV1Api(api)
    deleted_at = time.time()
    for node in nodes:
        core.delete_namespaced_pod(current[node].metadata.name, pods.namespace)
    return ProxyRestart(pods, deleted_at, {n: str(current[n].metadata.uid) for n in nodes})


def _ready_since(pod: Any) -> float | None:
    for cond in pod.status.conditions or []:
        if cond.type == "Ready" and cond.status == "True":
            return float(cond.last_transition_time.timestamp())
    return None


def wait_resynced(api: Any, restart: ProxyRestart, synced_at: SyncedAt, timeout: float) -> dict[str, float]:
    """Node -> epoch seconds at which the successor of each deleted pod had synced (``synced_at``)."""
    done: dict[str, float] = {}

    def check() -> tuple[bool, str]:
        current = _pods_by_node(api, restart.pods)
        waiting = []
        for node, old_uid in restart.old.items():
            if node in done:
                continue
            pod = current.get(node)
            ready = _ready_since(pod) if pod is not None and str(pod.metadata.uid) != old_uid else None
            at = synced_at(node, ready, restart.deleted_at) if ready is not None else None
            if at is None:
                waiting.append(f"{node} ({'new pod not Ready' if ready is None else 'not synced yet'})")
            else:
                done[node] = at
        return not waiting, "waiting for " + ", ".join(waiting)

    wait_for(check, timeout=timeout, what=f"new {restart.pods.daemonset} pods synced", interval=0.5)
    return done
