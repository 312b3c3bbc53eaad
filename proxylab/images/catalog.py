"""The names of every image, in one place (both image paths produce exactly these).

proxylab's own images (echo, locust, operator) have a local name (``proxylab/echo:0.4.0``) that
kind loads into its nodes. With ``--image-registry REGISTRY`` they are pushed to REGISTRY and a
cluster pulls them as ``REGISTRY/proxylab/echo:0.4.0``: ``Catalog.with_registry`` is the one place
that maps one to the other, and ``cluster_catalog()`` the catalog whose references every manifest
proxylab renders uses.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from ..errors import InvalidArgument
from ..versions import Pins, load_pins

LOCAL = "proxylab"  # local repository prefix for images proxylab owns
# Where the cluster pulls proxylab's own images (--image-registry; `proxylab run` passes it on to
# its pytest processes through this variable). Unset or empty: the images are loaded into kind.
IMAGE_REGISTRY_ENV = "PROXYLAB_IMAGE_REGISTRY"
# host[:port] then optional path components, as in a Docker reference; no scheme, tag or digest.
_REGISTRY_RE = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?|\[[0-9a-fA-F:]+\])(?::\d{1,5})?"
                          r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")


def normalise_registry(registry: str) -> str:
    """``--image-registry`` as a reference prefix: ``localhost:5001``, ``ghcr.io/me/proxylab``.

    "" stays "" (no registry). A trailing "/" is dropped; a scheme, tag, digest or anything that is
    not a registry host[:port][/path] is an InvalidArgument saying what to pass instead."""
    value = registry.strip().rstrip("/")
    if not value:
        return ""
    if "://" in value:
        raise InvalidArgument(f"--image-registry {registry!r}: give host[:port][/path] without a scheme "
                              f"(e.g. {value.split('://', 1)[1]}); Docker and containerd choose http or https")
    if "@" in value or not _REGISTRY_RE.fullmatch(value):
        raise InvalidArgument(f"--image-registry {registry!r} is not a registry host[:port][/path] "
                              "(e.g. localhost:5001 or registry.example.com/team); no tag or digest")
    return value


def registry_reference(local: str, registry: str) -> str:
    """The reference a cluster pulls for the local image ``local`` when it was pushed to
    ``registry`` (normalised): the local name under the registry prefix."""
    return f"{registry}/{local}" if registry else local


@dataclass(frozen=True)
class Catalog:
    pins: Pins
    # Where clusters pull proxylab's own images from ("": kind loads them; see with_registry).
    registry: str = ""

    def with_registry(self, registry: str) -> Catalog:
        """This catalog with proxylab's own images (echo, locust, operator) named as pushed to
        ``registry``; every other image keeps its name (kind's node image preloads them, or the
        mode loads them)."""
        return replace(self, registry=normalise_registry(registry))

    def _own(self, name: str, version_key: str) -> str:
        return registry_reference(f"{LOCAL}/{name}:{self.pins.raw['proxylab_images'][version_key]}", self.registry)

    def pushes(self) -> list[tuple[str, str]]:
        """(local reference, registry reference) of every image --image-registry pushes."""
        local = replace(self, registry="")
        return list(zip(local.fixture_images(), self.fixture_images(), strict=True))

    @property
    def node(self) -> str:
        """The kind node image every cluster uses, whichever path produced it."""
        return f"{LOCAL}/kind-node:{self.pins.kubernetes}"

    @property
    def base(self) -> str:
        """Debian base (minbase + ca-certificates) that proxylab's own images derive from."""
        return f"{LOCAL}/base:{self.pins.debian_suite}"

    @property
    def node_base(self) -> str:
        return f"{LOCAL}/kind-base:{self.pins.debian_suite}-{self.pins.containerd}"

    @property
    def echo(self) -> str:
        """The echo backend and probe client (proxylab/images/echo), loaded into clusters."""
        return self._own("echo", "echo")

    @property
    def locust(self) -> str:
        """The load generator (locust master/workers, loadgen/), loaded into clusters."""
        return self._own("locust", "locust")

    @property
    def operator(self) -> str:
        """The ServiceFixture operator (operators/fixture), loaded into clusters."""
        return self._own("fixture-operator", "operator")

    @property
    def registry_image(self) -> str:
        """The CNCF distribution registry `proxylab registry up` runs (built offline or pulled)."""
        return f"{LOCAL}/registry:{self.pins.raw['registry']['version']}"

    @property
    def cilium(self) -> str:
        """The Cilium agent (ebpf mode): upstream's name, so the chart finds it on both paths."""
        return f"quay.io/cilium/cilium:{self.pins.raw['cilium']['version']}"

    @property
    def cilium_operator(self) -> str:
        """cilium-operator-generic: the chart appends "-generic" to operator.image.repository."""
        return f"quay.io/cilium/operator-generic:{self.pins.raw['cilium']['version']}"

    def cilium_images(self) -> list[str]:
        """Images `cluster up --mode ebpf` loads into the cluster before installing Cilium."""
        return [self.cilium, self.cilium_operator]

    def fixture_images(self) -> list[str]:
        """proxylab's own images: `cluster up` loads them into every new cluster (not preloaded into the
        node image); with a registry, these are the references the cluster pulls."""
        return [self.echo, self.locust, self.operator]

    def control_plane(self) -> dict[str, str]:
        """Component -> upstream reference (what kubeadm asks for, given our kind config)."""
        v = self.pins.kubernetes
        return {
            "kube-apiserver": f"registry.k8s.io/kube-apiserver:{v}",
            "kube-controller-manager": f"registry.k8s.io/kube-controller-manager:{v}",
            "kube-scheduler": f"registry.k8s.io/kube-scheduler:{v}",
            "kube-proxy": f"registry.k8s.io/kube-proxy:{v}",
            "etcd": f"registry.k8s.io/etcd:{self.pins.etcd_image_tag}",
            "coredns": f"registry.k8s.io/coredns/coredns:{self.pins.coredns_image_tag}",
            "pause": f"registry.k8s.io/pause:{self.pins.pause}",
        }


def cluster_catalog(pins: Pins | None = None) -> Catalog:
    """The catalog whose references the cluster pulls: proxylab's own images under the registry of
    ``--image-registry`` (PROXYLAB_IMAGE_REGISTRY) when one is set, else their local (loaded) names."""
    return Catalog(pins or load_pins()).with_registry(os.environ.get(IMAGE_REGISTRY_ENV, ""))
