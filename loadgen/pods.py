"""Kubernetes objects of one load run: the locustfile ConfigMap, the master and worker pods (pure).

Least privilege: non-root (the image's numeric user), no capabilities, no privilege escalation,
read-only root filesystem with an emptyDir on /tmp, RuntimeDefault seccomp: the pods pass the
``restricted`` pod-security level. No CPU limit on purpose: a throttled worker would look idle
while it limits the rate; the result flags CPU-bound workers instead. Pods never restart and carry
``activeDeadlineSeconds``, so a run stops by itself even if the harness is gone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proxylab import manifests, runlabels

from .spec import LoadSpec

AGENT_DIR = Path(__file__).with_name("agent")
AGENT_FILES = ("locustfile.py", "lgstats.py")
MOUNT = "/proxylab"
LOCUSTFILE = f"{MOUNT}/locustfile.py"
MASTER_PORT = 5557
RUN_LABEL = "loadgen.proxylab.dev/run"
ROLE_LABEL = "loadgen.proxylab.dev/role"
# Workers may wait up to 120 s for the master (--expect-workers-max-wait); then the run itself.
DEADLINE_MARGIN_S = 180


def configmap(run_id: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"lg-{run_id}", "labels": {RUN_LABEL: run_id, **runlabels.labels()}},
            "data": {name: (AGENT_DIR / name).read_text() for name in AGENT_FILES}}


def _pod(name: str, run_id: str, role: str, image: str, args: list[str], spec: LoadSpec) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "activeDeadlineSeconds": spec.duration_s + DEADLINE_MARGIN_S,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "locust", "image": image, "imagePullPolicy": "IfNotPresent", "args": args,
            "securityContext": manifests.RESTRICTED_CONTAINER_SECURITY,
            "resources": {"requests": {"cpu": "100m", "memory": "96Mi"}, "limits": {"memory": "512Mi"}},
            "volumeMounts": [{"name": "agent", "mountPath": MOUNT, "readOnly": True},
                             {"name": "tmp", "mountPath": "/tmp"}],
        }],
        "volumes": [{"name": "agent", "configMap": {"name": f"lg-{run_id}"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }
    if role == "master":
        pod_spec["containers"][0]["ports"] = [{"name": "locust-master", "containerPort": MASTER_PORT}]
    if role == "worker" and spec.spread:
        # One worker per node: each has a node's CPU to itself, and the master adds their reports up.
        pod_spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchLabels": {RUN_LABEL: run_id, ROLE_LABEL: "worker"}}}]}}
    elif spec.node:
        pod_spec["affinity"] = manifests.on_nodes([spec.node])
    labels = {**spec.labels, RUN_LABEL: run_id, ROLE_LABEL: role, **runlabels.labels()}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels}, "spec": pod_spec}


def master_pod(run_id: str, image: str, spec: LoadSpec) -> dict[str, Any]:
    return _pod(f"lg-{run_id}-master", run_id, "master", image, spec.master_args(LOCUSTFILE), spec)


def worker_pod(run_id: str, index: int, image: str, spec: LoadSpec, master_ip: str) -> dict[str, Any]:
    """Workers dial the master's pod IP directly, so control traffic never crosses the proxy under test."""
    return _pod(f"lg-{run_id}-worker-{index}", run_id, "worker", image, spec.worker_args(LOCUSTFILE, master_ip), spec)
