"""The names of every image, in one place (both image paths produce exactly these)."""

from __future__ import annotations

from dataclasses import dataclass

from ..versions import Pins

LOCAL = "proxylab"  # local repository prefix for images proxylab owns


@dataclass(frozen=True)
class Catalog:
    pins: Pins

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
        return f"{LOCAL}/echo:{self.pins.raw['proxylab_images']['echo']}"

    @property
    def locust(self) -> str:
        """The load generator (locust master/workers, loadgen/), loaded into clusters."""
        return f"{LOCAL}/locust:{self.pins.raw['proxylab_images']['locust']}"

    @property
    def operator(self) -> str:
        """The ServiceFixture operator (operators/fixture), loaded into clusters."""
        return f"{LOCAL}/fixture-operator:{self.pins.raw['proxylab_images']['operator']}"

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
        """Images `cluster up` loads into every new cluster (not preloaded into the node image)."""
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
