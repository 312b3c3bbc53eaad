"""A kind cluster made outside proxylab from proxylab's node image: what it lacks to run the suites.

The node image has no kindnet (kind's default CNI is not buildable from the Go module proxy), so a
cluster made with plain ``kind create cluster --image proxylab/kind-node:<tag>`` needs
``networking.disableDefaultCNI: true`` in its kind config, and then proxylab's CNI on its nodes
(proxylab/cni.py: ptp + host-local per node, routes between nodes) and proxylab's own images.
The host's containment guard goes in first (the cluster's ranges and proxylab's fixed ones):
pods start sending as soon as they have a network. Nothing else in the cluster is touched; it
stays the user's, reached with ``--kubeconfig`` (proxylab never deletes it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from . import cluster, cni, existing, kube
from .constants import KIND_SMALL_LOAD_TIMEOUT_S
from .errors import ClusterError
from .images.catalog import Catalog
from .versions import load_pins


def prepare(name: str, load_images: bool = True, say: Callable[[str], None] = print) -> list[cni.NodeNet]:
    """Guard, pod networking and (``load_images``) proxylab's images for kind cluster ``name``."""
    if not cluster.kind_nodes(name):
        raise ClusterError(f"there is no kind cluster named {name!r} (`kind get clusters` lists them)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kubeconfig"
        path.write_text(cluster.kind_kubeconfig(name))
        path.chmod(0o600)
        api = kube.api_client(path)
        existing.guard_local(existing.detect(api)[2], say)
        nets = cni.node_nets(api)
    lacking = [n.name for n in nets if not n.ip or not n.pod_cidr]
    if lacking:
        raise ClusterError(f"node(s) {', '.join(lacking)} have no InternalIP or podCIDR yet: wait until "
                           "`kubectl get nodes` lists them all, then run this again")
    cni.configure(nets)
    say("pod networking: " + ", ".join(f"{n.name} {n.pod_cidr}" for n in nets))
    if load_images:
        for image in Catalog(load_pins()).fixture_images():
            cluster.load_image(name, image, timeout=KIND_SMALL_LOAD_TIMEOUT_S)
            say(f"loaded {image}")
    return nets
