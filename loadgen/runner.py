"""Run one locust load inside the cluster and bring its result back to the harness.

Flow: ConfigMap with the locustfile -> master pod -> (its pod IP) -> worker pods -> wait for the
master to finish -> read its log's ``PROXYLAB-LOADGEN-RESULT`` line -> delete everything of the run.
The result travels through the pod log because the master has exited by then (nothing to exec
into) and the log survives until the pod is deleted; no volume, RBAC or port-forward is needed.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from kubernetes import client

from proxylab import kube
from proxylab.images.catalog import cluster_catalog
from proxylab.wait import wait_for

from . import pods
from .errors import LoadRunFailed
from .result import LoadResult, from_raw
from .spec import LoadSpec

RESULT_MARKER = "PROXYLAB-LOADGEN-RESULT "
START_TIMEOUT_S = 120


def pod_phase(core: client.CoreV1Api, namespace: str, name: str) -> tuple[str, str | None]:
    pod = core.read_namespaced_pod(name, namespace)
    return pod.status.phase or "Unknown", pod.status.pod_ip


def _log_tail(core: client.CoreV1Api, namespace: str, name: str, lines: int = 30) -> str:
    try:
        text: str = core.read_namespaced_pod_log(name, namespace, tail_lines=lines)
    except client.ApiException as exc:
        return f"(no log: {exc.reason})"
    # Never echo the huge result line into an error message.
    return "\n".join(line[:300] for line in text.splitlines())


def diagnose(core: client.CoreV1Api, namespace: str, run_id: str) -> str:
    out = []
    for pod in core.list_namespaced_pod(namespace, label_selector=f"{pods.RUN_LABEL}={run_id}").items:
        name = pod.metadata.name
        out.append(f"--- {name} ({pod.status.phase}) ---\n{_log_tail(core, namespace, name)}")
    return "\n".join(out)


def worker_nodes(core: client.CoreV1Api, namespace: str, run_id: str) -> dict[str, str]:
    """Worker pod name (its hostname, the name it reports under) -> the node it ran on."""
    selector = f"{pods.RUN_LABEL}={run_id},{pods.ROLE_LABEL}=worker"
    return {p.metadata.name: p.spec.node_name or "" for p in core.list_namespaced_pod(namespace, label_selector=selector).items}


def parse_master_log(text: str) -> dict[str, Any]:
    """The master's result JSON from its log: lines ``<marker><index> <count> <piece>``, joined."""
    pieces: dict[int, str] = {}
    count = 0
    for line in text.splitlines():
        if line.startswith(RESULT_MARKER):
            index, n, piece = [*line[len(RESULT_MARKER):].split(" ", 2), ""][:3]
            pieces[int(index)], count = piece, int(n)
    if not pieces:
        raise LoadRunFailed("the locust master's log has no PROXYLAB-LOADGEN-RESULT line")
    if sorted(pieces) != list(range(count)):
        raise LoadRunFailed(f"the locust master's result is incomplete: pieces {sorted(pieces)} of {count}")
    parsed: dict[str, Any] = json.loads("".join(pieces[i] for i in range(count)))
    return parsed


def cleanup(api: client.ApiClient, namespace: str, run_id: str) -> None:
    core = client.CoreV1Api(api)
    selector = f"{pods.RUN_LABEL}={run_id}"
    core.delete_collection_namespaced_pod(namespace, label_selector=selector, grace_period_seconds=0)
    core.delete_collection_namespaced_config_map(namespace, label_selector=selector)


def run_load(api: client.ApiClient, namespace: str, spec: LoadSpec, image: str | None = None,
             keep: bool = False) -> LoadResult:
    """Run ``spec`` with locust pods in ``namespace`` (which must exist) and return its result.

    Blocks for about ``spec.duration_s`` plus pod start-up. Raises LoadRunFailed with the pods'
    log tails when no result comes back. ``keep`` leaves the pods for debugging.
    """
    image = image or cluster_catalog().locust
    core = client.CoreV1Api(api)
    run_id = uuid.uuid4().hex[:8]
    master = f"lg-{run_id}-master"
    t0 = time.monotonic()
    try:
        kube.apply(api, pods.configmap(run_id), namespace=namespace)
        kube.apply(api, pods.master_pod(run_id, image, spec), namespace=namespace)
        ip: list[str] = []

        def master_running() -> tuple[bool, str]:
            phase, pod_ip = pod_phase(core, namespace, master)
            if phase in ("Failed", "Succeeded"):
                raise LoadRunFailed(f"locust master {namespace}/{master} ended ({phase}) before workers started:\n"
                                    + diagnose(core, namespace, run_id))
            if pod_ip and phase == "Running":
                ip[:] = [pod_ip]
                return True, phase
            return False, f"phase {phase}, ip {pod_ip}"

        wait_for(master_running, timeout=START_TIMEOUT_S, what=f"locust master {namespace}/{master} running",
                 interval=0.5)
        for i in range(spec.workers):
            kube.apply(api, pods.worker_pod(run_id, i, image, spec, ip[0]), namespace=namespace)
        deadline = START_TIMEOUT_S + spec.duration_s + 60

        def master_done() -> tuple[bool, str]:
            phase, _ = pod_phase(core, namespace, master)
            return phase in ("Succeeded", "Failed"), f"phase {phase}"

        wait_for(master_done, timeout=deadline, what=f"locust master {namespace}/{master} to finish", interval=1)
        phase, _ = pod_phase(core, namespace, master)
        text: str = core.read_namespaced_pod_log(master, namespace)
        try:
            raw = parse_master_log(text)
        except (LoadRunFailed, ValueError) as exc:
            raise LoadRunFailed(f"locust master {namespace}/{master} ended ({phase}) without a result ({exc}); "
                                f"pods:\n{diagnose(core, namespace, run_id)}") from None
        if raw.get("workers_reporting", 0) < spec.workers:
            raise LoadRunFailed(f"only {raw.get('workers_reporting')} of {spec.workers} locust workers reported; "
                                f"pods:\n{diagnose(core, namespace, run_id)}")
        raw["wall_s"] = round(time.monotonic() - t0, 1)
        raw["worker_nodes"] = worker_nodes(core, namespace, run_id)
        return from_raw(raw)
    finally:
        if not keep:
            cleanup(api, namespace, run_id)
