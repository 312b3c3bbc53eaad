"""How the upstream specs' one image, agnhost, reaches the session's cluster.

The specs ask for ``registry.k8s.io/e2e-test-images/agnhost:<tag>``; which registry e2e.test puts in
front of ``agnhost:<tag>`` comes from the file named by ``KUBE_TEST_REPO_LIST``
(test/utils/image/manifest.go: its ``promoterE2eRegistry`` key). Three ways, in this order, as for
proxylab's own images:

- ``--image-registry REGISTRY``: pushed to ``REGISTRY/e2e-test-images/agnhost:<tag>`` and
  e2e.test told so through a repo list;
- a kind cluster on this host (proxylab's own, or an existing one whose nodes are local kind
  containers): ``kind load``;
- any other cluster pulls upstream's own reference itself, as upstream's e2e jobs do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from proxylab import cluster as cluster_mod
from proxylab import registry as registry_mod
from proxylab.cluster import ClusterInfo
from proxylab.errors import ProxylabError

UPSTREAM_PREFIX = "registry.k8s.io/e2e-test-images/"
REPO_LIST_ENV = "KUBE_TEST_REPO_LIST"
REPO_LIST_FILE = "repo-list.yaml"


@dataclass(frozen=True)
class Provided:
    """What was done so the cluster has agnhost: ``how`` (kind-load, registry, cluster-pulls), the
    reference the cluster pulls, seconds it took, and environment for e2e.test."""

    how: str
    reference: str
    seconds: float
    env: dict[str, str] = field(default_factory=dict)


def repo_list(registry: str) -> str:
    """The KUBE_TEST_REPO_LIST document that sends the e2e images (agnhost among them) to ``registry``."""
    return f"promoterE2eRegistry: {registry}/e2e-test-images\n"


def registry_reference(image: str, registry: str) -> str:
    """``registry.k8s.io/e2e-test-images/agnhost:2.56`` -> ``REGISTRY/e2e-test-images/agnhost:2.56``."""
    if not image.startswith(UPSTREAM_PREFIX):
        raise ProxylabError(f"{image} is not an image of {UPSTREAM_PREFIX}; the repo list cannot redirect it")
    return f"{registry}/e2e-test-images/{image[len(UPSTREAM_PREFIX):]}"


def provide(cluster: ClusterInfo, image: str, registry: str, work_dir: Path) -> Provided:
    """Make ``image`` (agnhost, built or pulled on this host) available to ``cluster``."""
    t0 = time.monotonic()
    if registry:
        remote = registry_mod.push_image(image, registry_reference(image, registry), registry).remote
        work_dir.mkdir(parents=True, exist_ok=True)
        listing = work_dir / REPO_LIST_FILE
        listing.write_text(repo_list(registry))
        return Provided("registry", remote, round(time.monotonic() - t0, 1), {REPO_LIST_ENV: str(listing)})
    if cluster.docker_network is not None:  # every node is a kind container of this engine
        cluster_mod.load_image(cluster.name, image)
        return Provided("kind-load", image, round(time.monotonic() - t0, 1))
    return Provided("cluster-pulls", image, 0.0)
