"""Pinned versions, read from ``pins.toml`` (the single source for both image paths)."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PINS_FILE = Path(__file__).with_name("pins.toml")


@dataclass(frozen=True)
class Pins:
    """Typed view of pins.toml; ``raw`` keeps the whole table for hashing."""

    kubernetes: str
    kubernetes_godebug: str
    kind: str
    kind_node_image: str
    containerd: str
    runc: str
    crictl: str
    cni_plugins: str
    etcd: str
    etcd_image_tag: str
    coredns: str
    coredns_image_tag: str
    pause: str
    debian_suite: str
    go_minimum: str
    raw: dict[str, Any]

    @property
    def kubernetes_minor(self) -> int:
        return int(self.kubernetes.lstrip("v").split(".")[1])

    @property
    def staging_version(self) -> str:
        """Published version of the k8s.io staging modules (v1.34.4 -> v0.34.4)."""
        return "v0." + self.kubernetes.lstrip("v").split(".", 1)[1]

    def section_hash(self, *sections: str) -> str:
        """Stable hash of some pins sections: part of a build step's cache key."""
        h = hashlib.sha256()
        for name in sorted(sections):
            h.update(repr((name, sorted(self.raw[name].items()))).encode())
        return h.hexdigest()[:16]

    def as_dict(self) -> dict[str, str]:
        """Flat name -> version mapping for results metadata and reports."""
        return {
            "kubernetes": self.kubernetes,
            "kind": self.kind,
            "containerd": self.containerd,
            "runc": self.runc,
            "crictl": self.crictl,
            "cni_plugins": self.cni_plugins,
            "etcd": self.etcd,
            "coredns": self.coredns,
            "pause": self.pause,
            "debian": self.debian_suite,
        }


def parse_pins(data: dict[str, Any]) -> Pins:
    return Pins(
        kubernetes=data["kubernetes"]["version"],
        kubernetes_godebug=data["kubernetes"]["go_godebug"],
        kind=data["kind"]["version"],
        kind_node_image=data["kind"]["node_image"],
        containerd=data["containerd"]["version"],
        runc=data["runc"]["version"],
        crictl=data["crictl"]["version"],
        cni_plugins=data["cni_plugins"]["version"],
        etcd=data["etcd"]["version"],
        etcd_image_tag=data["etcd"]["image_tag"],
        coredns=data["coredns"]["version"],
        coredns_image_tag=data["coredns"]["image_tag"],
        pause=data["pause"]["version"],
        debian_suite=data["debian"]["suite"],
        go_minimum=data["go"]["minimum"],
        raw=data,
    )


@cache
def load_pins(path: Path = PINS_FILE) -> Pins:
    with path.open("rb") as fh:
        return parse_pins(tomllib.load(fh))
