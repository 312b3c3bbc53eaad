"""What proxylab has left on the host: the inventory the kill tests check is empty after cleanup.

Per cluster name: the kind cluster, its node containers and its state directory. Host-wide, and
only meaningful when no proxylab cluster is left (they are shared by every cluster): helper
containers, proxylab's Docker network and the containment guard's routes. Pods (fixtures, locust
workers) live inside a cluster's nodes and go with them.
"""

from __future__ import annotations

from . import docker, guard
from .cluster import NETWORK, PREFIX, cluster_dir, kind_clusters
from .paths import state_dir


def of_cluster(name: str) -> dict[str, list[str]]:
    """Everything that still exists of cluster ``name`` (empty lists when it is fully gone)."""
    state = cluster_dir(name)
    return {
        "kind cluster": [name] if name in kind_clusters() else [],
        "node containers": docker.container_ids(f"label=io.x-k8s.kind.cluster={name}"),
        "state directory": [str(state)] if state.exists() else [],
    }


def host_wide() -> dict[str, list[str]]:
    """Shared leftovers: what must be gone once no proxylab cluster exists."""
    clusters = [c for c in kind_clusters() if c.startswith(PREFIX)]
    return {
        "proxylab clusters": clusters,
        "helper containers": docker.container_ids(f"label={docker.LABEL}"),
        "docker network": [NETWORK] if docker.inspect("network", NETWORK) else [],
        "guard routes": guard.installed_routes() if not clusters else [],
        "state directories": [p.name for p in (state_dir() / "clusters").glob("*")],
    }


def nonempty(inventory: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: v for k, v in inventory.items() if v}
