"""Pinned versions, read from ``pins.toml`` (the single source for both image paths)."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .errors import InvalidPins

PINS_FILE = Path(__file__).with_name("pins.toml")
# A pinned version: 1.26, 19, 3.10.1, v1.34.4, 3.6.5-0, v1.35.0-rc.1 (never "latest" or a branch).
VERSION_RE = re.compile(r"v?\d+(\.\d+){0,3}([-+][0-9A-Za-z.+-]+)?")
# Kubernetes needs all three parts: its minor selects images and staging modules.
KUBERNETES_RE = re.compile(r"v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?")
# Pins other modules read from ``Pins.raw``: checked here so a missing one is named at load time.
RAW_VERSIONS = (("locust", "version"), ("go", "minimum"), ("operator", "kopf"), ("operator", "kubernetes"),
                ("proxylab_images", "echo"), ("proxylab_images", "locust"), ("proxylab_images", "operator"),
                ("cilium", "version"), ("cilium", "llvm"), ("cilium", "helm"), ("cilium", "gobgp_substitute"),
                ("upstream", "ginkgo"), ("upstream", "agnhost"), ("registry", "version"), ("registry", "image_tag"))


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


def _pin(data: dict[str, Any], table: str, key: str, source: str, pattern: re.Pattern[str] | None = None) -> str:
    """``[table].key`` of pins.toml as a non-empty string (a version when ``pattern`` is given)."""
    section = data.get(table)
    if section is None:
        raise InvalidPins(f"{source}: table [{table}] is missing (it needs {key} = \"...\")")
    if not isinstance(section, dict):
        raise InvalidPins(f"{source}: [{table}] must be a table, got {section!r}")
    if key not in section:
        raise InvalidPins(f"{source}: [{table}].{key} is missing")
    value = section[key]
    if not isinstance(value, str) or not value.strip():
        raise InvalidPins(f"{source}: [{table}].{key} must be a non-empty string, got {value!r}")
    if pattern is not None and not pattern.fullmatch(value):
        example = "v1.34.4" if pattern is KUBERNETES_RE else "v1.2.3 or 1.2"
        raise InvalidPins(f"{source}: [{table}].{key} = {value!r} is not a pinned version (e.g. {example}); "
                          "pins are exact versions, never a tag such as 'latest'")
    return value


def parse_pins(data: dict[str, Any], source: Path | str = PINS_FILE) -> Pins:
    """The typed pins; InvalidPins names the file, table and key of anything missing or malformed.

    Every table's ``version`` and every pin another module reads (``RAW_VERSIONS``) must be a
    version, so a tag such as "latest" fails here rather than deep inside a build."""
    src = str(source)
    if not isinstance(data, dict):
        raise InvalidPins(f"{src}: expected TOML tables, got {data!r}")
    for table, section in data.items():
        if isinstance(section, dict) and "version" in section:
            _pin(data, table, "version", src, KUBERNETES_RE if table == "kubernetes" else VERSION_RE)
    for table, key in RAW_VERSIONS:
        _pin(data, table, key, src, VERSION_RE)

    def ver(table: str) -> str:
        return _pin(data, table, "version", src, KUBERNETES_RE if table == "kubernetes" else VERSION_RE)

    return Pins(
        kubernetes=ver("kubernetes"),
        kubernetes_godebug=_pin(data, "kubernetes", "go_godebug", src),
        kind=ver("kind"),
        kind_node_image=_pin(data, "kind", "node_image", src),
        containerd=ver("containerd"),
        runc=ver("runc"),
        crictl=ver("crictl"),
        cni_plugins=ver("cni_plugins"),
        etcd=ver("etcd"),
        etcd_image_tag=_pin(data, "etcd", "image_tag", src),
        coredns=ver("coredns"),
        coredns_image_tag=_pin(data, "coredns", "image_tag", src),
        pause=ver("pause"),
        debian_suite=_pin(data, "debian", "suite", src),
        go_minimum=_pin(data, "go", "minimum", src, VERSION_RE),
        raw=data,
    )


def read_pins(path: Path) -> Pins:
    """Parse the pins file at ``path``; InvalidPins names the file (and the line, for bad TOML)."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise InvalidPins(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidPins(f"{path}: not valid TOML: {exc}") from None
    except ValueError as exc:  # not UTF-8
        raise InvalidPins(f"{path}: not valid TOML (UTF-8 text expected): {exc}") from None
    return parse_pins(data, path)


@cache
def load_pins(path: Path = PINS_FILE) -> Pins:
    return read_pins(path)
