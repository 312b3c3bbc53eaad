"""Kubernetes API access (the official client) for one cluster's kubeconfig."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config, utils
from kubernetes.stream import stream


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


def nodes_ready(api: client.ApiClient, expected: int) -> tuple[bool, str]:
    nodes = client.CoreV1Api(api).list_node().items
    ready = [n.metadata.name for n in nodes
             if any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))]
    return len(ready) == expected, f"{len(ready)}/{expected} nodes Ready ({', '.join(ready) or 'none'})"


def node_networks(api: client.ApiClient) -> list[tuple[str, str, str | None]]:
    """(name, InternalIP, podCIDR) for every node; "" for a node that has no InternalIP yet."""
    out = []
    for n in client.CoreV1Api(api).list_node().items:
        ip = next((a.address for a in (n.status.addresses or []) if a.type == "InternalIP"), "")
        out.append((n.metadata.name, ip, n.spec.pod_cidr))
    return out


def deployment_ready(api: client.ApiClient, namespace: str, name: str) -> tuple[bool, str]:
    d = client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
    want, ready = d.spec.replicas or 0, d.status.ready_replicas or 0
    return ready >= want > 0, f"deployment {namespace}/{name}: {ready}/{want} ready"


def daemonset_ready(api: client.ApiClient, namespace: str, name: str) -> tuple[bool, str]:
    ds = client.AppsV1Api(api).read_namespaced_daemon_set(name, namespace)
    want, ready = ds.status.desired_number_scheduled or 0, ds.status.number_ready or 0
    return ready >= want > 0, f"daemonset {namespace}/{name}: {ready}/{want} ready"


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


def exec_in_pod(api: client.ApiClient, namespace: str, pod: str, argv: list[str], timeout: float = 120,
                container: str | None = None) -> ExecResult:
    """Run ``argv`` in a pod (like `kubectl exec`), returning its exit code and both streams."""
    # stream() temporarily swaps the ApiClient's request function, so an exec sharing the client with
    # other threads' API calls breaks them: every exec gets a client of its own.
    core = client.CoreV1Api(client.ApiClient(api.configuration))
    kwargs = {"container": container} if container else {}
    resp = stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=argv, stderr=True, stdin=False,
                  stdout=True, tty=False, _preload_content=False, **kwargs)
    out, err = [], []
    deadline = time.monotonic() + timeout
    while resp.is_open():
        resp.update(timeout=1)
        if resp.peek_stdout():
            out.append(resp.read_stdout())
        if resp.peek_stderr():
            err.append(resp.read_stderr())
        if time.monotonic() > deadline:
            resp.close()
            raise TimeoutError(f"exec {argv} in {namespace}/{pod} did not finish within {timeout}s")
    resp.close()
    rc = resp.returncode
    return ExecResult(rc if rc is not None else -1, "".join(out), "".join(err))


def pod_ready(api: client.ApiClient, namespace: str, label_selector: str, expected: int) -> tuple[bool, str]:
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=label_selector).items
    ready = [p.metadata.name for p in pods if p.metadata.deletion_timestamp is None and
             any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]
    phases = ", ".join(f"{p.metadata.name}={p.status.phase}" for p in pods) or "no pods"
    return len(ready) == expected, f"{len(ready)}/{expected} ready ({phases})"


def apply(api: client.ApiClient, obj: dict[str, Any], namespace: str | None = None) -> Any:
    """Create ``obj`` (a plain manifest) with the official client's create-from-dict helper."""
    return utils.create_from_dict(api, obj, namespace=namespace)


def delete_namespace(api: client.ApiClient, name: str) -> None:
    try:
        client.CoreV1Api(api).delete_namespace(name, propagation_policy="Background")
    except client.ApiException as exc:
        if exc.status != 404:
            raise


FIELD_MANAGER = "proxylab"


def server_side_apply(api: client.ApiClient, obj: dict[str, Any], *, default_namespace: str | None = None) -> None:
    """Server-side apply of one manifest object through the dynamic client (idempotent: applying
    the same object again changes nothing; conflicting field owners are overridden, as proxylab owns
    what it applies). A namespaced object without a namespace goes to ``default_namespace``."""
    from kubernetes import dynamic

    resource = dynamic.DynamicClient(api).resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    namespace = obj["metadata"].get("namespace") or (default_namespace if resource.namespaced else None)
    if resource.namespaced and not namespace:
        raise ValueError(f"{obj['kind']} {obj['metadata']['name']} is namespaced but names no namespace")
    resource.server_side_apply(body=obj, name=obj["metadata"]["name"], namespace=namespace,
                               field_manager=FIELD_MANAGER, force_conflicts=True)
