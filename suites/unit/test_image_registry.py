"""--image-registry: the reference mapping, the local registry's containerd config, the registry
image's pins (pure logic; the real push and pull are verified against a cluster, see README)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from proxylab import registry
from proxylab.errors import InvalidArgument
from proxylab.images import registryimage
from proxylab.images.catalog import IMAGE_REGISTRY_ENV, Catalog, cluster_catalog, normalise_registry
from proxylab.kindconfig import render
from proxylab.modes import ProxyMode
from proxylab.runner import pytest_argv
from proxylab.versions import load_pins


@pytest.mark.parametrize(("given", "expected"), [
    ("localhost:5001", "localhost:5001"),
    ("localhost:5001/", "localhost:5001"),
    (" registry.example.com/team/proxylab ", "registry.example.com/team/proxylab"),
    ("[::1]:5000", "[::1]:5000"),
    ("ghcr.io", "ghcr.io"),
    ("", ""),
])
def test_registry_is_normalised(given: str, expected: str) -> None:
    assert normalise_registry(given) == expected


@pytest.mark.parametrize(("given", "says"), [
    ("http://localhost:5001", "without a scheme"),
    ("localhost:5001/echo:1.0", "no tag or digest"),
    ("localhost:5001/x@sha256:abc", "no tag or digest"),
    ("ghcr.io/Team", "not a registry"),
    ("local host:5001", "not a registry"),
])
def test_bad_registry_says_what_to_pass(given: str, says: str) -> None:
    with pytest.raises(InvalidArgument, match=says):
        normalise_registry(given)


def test_with_registry_renames_only_proxylabs_own_images() -> None:
    local = Catalog(load_pins())
    remote = local.with_registry("localhost:5001/")
    for name in ("echo", "locust", "operator"):
        assert getattr(remote, name) == f"localhost:5001/{getattr(local, name)}"
    assert remote.fixture_images() == [f"localhost:5001/{ref}" for ref in local.fixture_images()]
    # What kind preloads or a mode loads keeps its name; so does the image proxylab builds locally.
    for unchanged in ("node", "base", "cilium", "cilium_operator", "registry_image"):
        assert getattr(remote, unchanged) == getattr(local, unchanged)
    assert remote.control_plane() == local.control_plane()


def test_pushes_pair_local_and_registry_references() -> None:
    cat = Catalog(load_pins()).with_registry("registry.example.com/team")
    pushes = cat.pushes()
    assert [local for local, _ in pushes] == Catalog(load_pins()).fixture_images()
    assert all(remote == f"registry.example.com/team/{local}" for local, remote in pushes)
    assert Catalog(load_pins()).pushes() == [(ref, ref) for ref in Catalog(load_pins()).fixture_images()]


def test_cluster_catalog_follows_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(IMAGE_REGISTRY_ENV, raising=False)
    assert cluster_catalog().echo == Catalog(load_pins()).echo
    monkeypatch.setenv(IMAGE_REGISTRY_ENV, "localhost:5001")
    assert cluster_catalog().echo == "localhost:5001/" + Catalog(load_pins()).echo


def test_hosts_toml_sends_localhost_pulls_to_the_registry_container() -> None:
    doc = tomllib.loads(registry.hosts_toml())
    host = doc["host"][f"http://{registry.CONTAINER}:{registry.CONTAINER_PORT}"]
    assert host["capabilities"] == ["pull", "resolve"]
    assert registry.hosts_path(registry.address(5001)) == "/etc/containerd/certs.d/localhost:5001/hosts.toml"


def test_kind_nodes_read_hosts_toml_from_certs_d() -> None:
    doc = yaml.safe_load(render("proxylab-x", ProxyMode.parse("iptables"), 0, load_pins()))
    patch = tomllib.loads(doc["containerdConfigPatches"][0])
    cri = patch["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["registry"]["config_path"] == registry.CERTS_DIR
    assert cri["restrict_oom_score_adj"] is True


def test_run_passes_the_registry_to_pytest_only_when_given() -> None:
    mode = ProxyMode.parse("iptables")
    without = pytest_argv(mode, ["operator"], "20261201T000000Z", Path("/r"))
    assert "--image-registry" not in without
    given = pytest_argv(mode, ["operator"], "20261201T000000Z", Path("/r"), image_registry="localhost:5001")
    assert given[given.index("--image-registry") + 1] == "localhost:5001"


def test_registry_image_pins_name_one_release() -> None:
    """The pull path's official image tag and the offline path's module version are the same release."""
    pins = load_pins()
    version = pins.raw["registry"]["version"]
    assert pins.raw["registry"]["image_tag"] == version.removeprefix("v")
    spec = registryimage.registry_spec(pins)
    assert (spec.module, spec.version, spec.binary_names()) == (registryimage.MODULE, version, ["registry"])
    assert registryimage.upstream_image(pins).endswith(f"/registry:{version.removeprefix('v')}")
    assert Catalog(pins).registry_image == f"proxylab/registry:{version}"


@pytest.mark.parametrize(("given", "port"), [
    ("localhost:5001", 5001), ("127.0.0.1:5002/team", 5002), ("localhost", None),
    ("registry.example.com:5001", None), ("localhost:http", None),
])
def test_only_a_loopback_registry_is_proxylabs_local_one(given: str, port: int | None) -> None:
    assert registry.local_port(given) == port
