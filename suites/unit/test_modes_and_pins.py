from __future__ import annotations

import pytest

from proxylab.errors import UnknownMode
from proxylab.modes import ProxyMode, all_modes
from proxylab.versions import load_pins


def test_parse_accepts_every_mode_case_insensitively() -> None:
    for mode in all_modes():
        assert ProxyMode.parse(mode.value.upper()) is mode


def test_unknown_mode_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownMode, match=", ".join(m.value for m in all_modes()) + "$"):
        ProxyMode.parse("userspace")


def test_pins_are_consistent() -> None:
    pins = load_pins()
    assert pins.kubernetes.startswith("v1.34.")
    assert pins.staging_version == "v0." + pins.kubernetes.removeprefix("v1.")
    assert pins.kind == "v0.33.0"
    assert pins.containerd.startswith("v2.3.")
    assert pins.etcd_image_tag.startswith(pins.etcd.lstrip("v"))
    assert pins.kind_node_image.endswith(":" + pins.kubernetes), "pull path must use the same Kubernetes"


def test_section_hash_changes_only_with_its_section() -> None:
    pins = load_pins()
    assert pins.section_hash("etcd") == pins.section_hash("etcd")
    assert pins.section_hash("etcd") != pins.section_hash("coredns")
