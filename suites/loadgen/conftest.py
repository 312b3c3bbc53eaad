"""Fixtures of the loadgen suite: a restricted namespace with echo backends on one worker node."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from kubernetes import client

from proxylab import kube, manifests
from proxylab.cluster import ClusterInfo
from proxylab.constants import NAMESPACE_READY_TIMEOUT_S, POD_READY_TIMEOUT_S
from proxylab.images.catalog import cluster_catalog
from proxylab.wait import wait_for

BACKENDS = 5


@dataclass
class Backends:
    """Echo backends behind Service ``echo`` (plus ``empty``, a Service without endpoints)."""

    api: client.ApiClient
    namespace: str
    pods: dict[str, str]  # pod name -> pod IP
    service: str  # DNS name:port of the echo Service
    empty: str  # DNS name:port of the Service without endpoints
    client_node: str | None  # where locust runs (another node than the backends, when there is one)


@pytest.fixture(scope="module")
def backends(cluster: ClusterInfo, request: pytest.FixtureRequest) -> Iterator[Backends]:
    api = kube.api_client(cluster.kubeconfig)
    core = client.CoreV1Api(api)
    base = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")[:40]
    ns = f"{base}-{uuid.uuid4().hex[:6]}"
    kube.apply(api, manifests.namespace(ns))  # pod-security: restricted (locust pods must pass it)
    try:
        wait_for(lambda: (bool(core.list_namespaced_service_account(ns).items), "no default service account"),
                 timeout=NAMESPACE_READY_TIMEOUT_S, what=f"namespace {ns}")
        workers = cluster.workers
        backend_node = workers[-1] if workers else None
        client_node = workers[0] if len(workers) > 1 else None
        echo = cluster_catalog().echo
        kube.apply(api, manifests.echo_deployment("echo", echo, BACKENDS, node=backend_node), namespace=ns)
        kube.apply(api, manifests.service("echo", {"app": "echo"}), namespace=ns)
        kube.apply(api, manifests.service("empty", {"app": "nothing-matches-this"}), namespace=ns)
        wait_for(lambda: kube.pod_ready(api, ns, "app=echo", BACKENDS), timeout=POD_READY_TIMEOUT_S,
                 what=f"{BACKENDS} echo backends in {ns}")
        pods = {p.metadata.name: p.status.pod_ip for p in core.list_namespaced_pod(ns, label_selector="app=echo").items
                if p.metadata.deletion_timestamp is None}
        yield Backends(api, ns, pods, f"echo.{ns}.svc.cluster.local:80", f"empty.{ns}.svc.cluster.local:80",
                       client_node)
    finally:
        kube.delete_namespace(api, ns)
