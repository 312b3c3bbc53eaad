"""Plain Kubernetes objects for the smoke test and probes (pure functions, unit-tested).

The fixture operator (operators/) will build richer fixtures from a custom resource; these are
the minimal pieces every suite needs: echo backends, a Service, and a probe client pod.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import runlabels
from .constants import ECHO_HTTP_PORT as ECHO_HTTP_PORT  # re-exported: callers written before constants.py
from .constants import ECHO_UDP_PORT as ECHO_UDP_PORT

RESTRICTED_CONTAINER_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}



def on_nodes(nodes: Iterable[str]) -> dict[str, Any]:
    """A pod ``affinity`` that keeps the pod on the named nodes.

    Matched on the Node object's name (``matchFields: metadata.name``), not on the
    ``kubernetes.io/hostname`` label: on many real clusters (clouds, FQDN hostnames) the label's
    value is not the node's name, and a nodeSelector on it would leave the pod Pending.
    """
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": list(nodes)}]}]}}}

def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "proxylab",
                                                  "pod-security.kubernetes.io/enforce": "restricted",
                                                  **runlabels.labels()}}}


def _env_from_downward() -> list[dict[str, Any]]:
    return [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]


def echo_deployment(name: str, image: str, replicas: int, node: str | None = None,
                    labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Echo backends (non-root, read-only rootfs, no capabilities), optionally pinned to ``node``."""
    labels = labels or {"app": name}
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 5,
        "containers": [{
            "name": "echo", "image": image, "imagePullPolicy": "IfNotPresent", "args": ["serve"],
            "env": _env_from_downward(),
            "ports": [{"name": "http", "containerPort": ECHO_HTTP_PORT, "protocol": "TCP"},
                      {"name": "udp", "containerPort": ECHO_UDP_PORT, "protocol": "UDP"}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": ECHO_HTTP_PORT}, "periodSeconds": 1,
                               "failureThreshold": 1, "successThreshold": 1},
            "securityContext": RESTRICTED_CONTAINER_SECURITY,
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        }],
    }
    if node:
        spec["affinity"] = on_nodes([node])
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def service(name: str, selector: dict[str, str], port: int = 80, target_port: int | str = ECHO_HTTP_PORT,
            svc_type: str = "ClusterIP") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": svc_type, "selector": selector,
                     "ports": [{"name": "http", "port": port, "targetPort": target_port, "protocol": "TCP"}]}}


def probe_pod(name: str, image: str, node: str | None = None) -> dict[str, Any]:
    """A client pod that idles; tests exec the echo binary's probe commands in it."""
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 0,
        # No Service environment variables: a Service named "udp" or "http" would set UDP_PORT or
        # HTTP_PORT (to "udp://10.96.x.y:53"), which the echo server reads as its own ports, and exit.
        "enableServiceLinks": False,
        "containers": [{"name": "probe", "image": image, "imagePullPolicy": "IfNotPresent",
                        "args": ["serve"], "env": _env_from_downward(),
                        "securityContext": RESTRICTED_CONTAINER_SECURITY}],
    }
    if node:
        spec["affinity"] = on_nodes([node])
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"role": "probe", "probe-name": name}}, "spec": spec}
