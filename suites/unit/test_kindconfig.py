from __future__ import annotations

import pytest
import yaml

from proxylab.constants import POD_CIDR, SERVICE_CIDR
from proxylab.kindconfig import render
from proxylab.modes import ProxyMode, all_modes
from proxylab.versions import load_pins


@pytest.mark.parametrize("mode", all_modes(), ids=str)
def test_render_sets_the_mode_and_topology(mode: ProxyMode) -> None:
    doc = yaml.safe_load(render("proxylab-x", mode, 2, load_pins()))
    assert doc["networking"]["kubeProxyMode"] == mode.kind_settings().kube_proxy_mode
    assert doc["networking"]["disableDefaultCNI"] is True
    assert doc["networking"]["podSubnet"] == POD_CIDR
    assert doc["networking"]["serviceSubnet"] == SERVICE_CIDR
    assert [n["role"] for n in doc["nodes"]] == ["control-plane", "worker", "worker"]


def test_render_patches_kubelet_containerd_and_image_tags() -> None:
    pins = load_pins()
    doc = yaml.safe_load(render("proxylab-x", ProxyMode.parse("iptables"), 0, pins))
    patches = [yaml.safe_load(p) for p in doc["kubeadmConfigPatches"]]
    by_kind = {p["kind"]: p for p in patches}
    assert by_kind["KubeletConfiguration"]["failCgroupV1"] is False
    assert by_kind["ClusterConfiguration"]["dns"]["imageTag"] == pins.coredns_image_tag
    assert by_kind["ClusterConfiguration"]["etcd"]["local"]["imageTag"] == pins.etcd_image_tag
    assert by_kind["KubeProxyConfiguration"]["metricsBindAddress"] == "0.0.0.0:10249"
    assert "restrict_oom_score_adj = true" in doc["containerdConfigPatches"][0]
    assert [n["role"] for n in doc["nodes"]] == ["control-plane"]


def test_render_rejects_negative_workers() -> None:
    with pytest.raises(ValueError):
        render("proxylab-x", ProxyMode.parse("iptables"), -1, load_pins())


def test_render_raises_the_controller_managers_api_rate() -> None:
    pins = load_pins()
    doc = yaml.safe_load(render("proxylab-x", ProxyMode.parse("nftables"), 2, pins))
    if pins.kubernetes_minor >= 36:
        (patch,) = doc["kubeadmConfigPatchesJSON6902"]
        ops = yaml.safe_load(patch["patch"])
        assert {o["value"]["name"]: o["value"]["value"] for o in ops} == {"kube-api-qps": "100", "kube-api-burst": "200"}
    else:
        cluster = next(p for p in map(yaml.safe_load, doc["kubeadmConfigPatches"]) if p["kind"] == "ClusterConfiguration")
        assert cluster["controllerManager"]["extraArgs"] == {"kube-api-qps": "100", "kube-api-burst": "200"}
        assert "kubeadmConfigPatchesJSON6902" not in doc
