"""The ebpf mode's pure pieces: chart values, features, service-table parsing, build specs."""

from __future__ import annotations

import ipaddress

from proxylab import cilium
from proxylab.constants import POD_CIDR
from proxylab.images import ciliumimages
from proxylab.images.catalog import Catalog
from proxylab.modes import ProxyMode, all_modes
from proxylab.versions import load_pins

SERVICE_LIST = """\
ID   Frontend                Service Type   Backend
1    10.96.0.1:443/TCP       ClusterIP      1 => 172.18.0.3:6443/TCP (active)
2    10.96.0.10:53/UDP       ClusterIP      1 => 10.244.1.2:53/UDP (active)
                                            2 => 10.244.2.7:53/UDP (active)
3    10.96.0.10:9153/TCP     ClusterIP      1 => 10.244.1.2:9153/TCP (active)
4    172.18.0.3:30080/TCP    NodePort       1 => 10.244.1.9:8080/TCP (active)
"""


def test_values_drop_sys_resource_and_keep_the_replacement_on() -> None:
    values = cilium.helm_values(load_pins(), "172.18.0.2")
    caps = values["securityContext"]["capabilities"]
    assert "SYS_RESOURCE" not in caps["ciliumAgent"] and "SYS_RESOURCE" not in caps["cleanCiliumState"]
    assert values["kubeProxyReplacement"] is True
    assert values["k8sServiceHost"] == "172.18.0.2" and values["k8sServicePort"] == 6443
    assert values["envoy"]["enabled"] is False and values["l7Proxy"] is False
    assert values["image"]["useDigest"] is False


def test_values_keep_pod_traffic_inside_the_guarded_cidr() -> None:
    values = cilium.helm_values(load_pins(), "172.18.0.2")
    assert ipaddress.IPv4Network(values["ipv4NativeRoutingCIDR"]).subnet_of(ipaddress.IPv4Network(POD_CIDR))
    assert values["ipam"]["mode"] == "kubernetes"  # the node podCIDRs kind assigns from POD_CIDR
    assert values["enableIPv4Masquerade"] is False


def test_operator_image_is_the_generic_one_on_both_paths() -> None:
    values = cilium.helm_values(load_pins(), "x")
    assert values["operator"]["image"]["override"] == Catalog(load_pins()).cilium_operator
    assert Catalog(load_pins()).cilium_operator.startswith("quay.io/cilium/operator-generic:")


def test_requested_features_record_what_ebpf_meant() -> None:
    feats = cilium.requested_features(cilium.helm_values(load_pins(), "x", socket_lb=False))
    assert feats["socket_lb"] is False and feats["kube_proxy_replacement"] is True
    assert feats["agent_capabilities_without"] == ["SYS_RESOURCE"]


def test_service_frontends_parses_cluster_ips_only() -> None:
    assert cilium.service_frontends(SERVICE_LIST) == {"10.96.0.1:443", "10.96.0.10:53", "10.96.0.10:9153"}


def test_go_builds_substitute_only_the_unserved_dependencies() -> None:
    agent, operator = ciliumimages.go_builds(load_pins())
    assert agent.binary_names()[0] == "cilium-agent" and "cilium-cni" in agent.binary_names()
    assert operator.binary_names() == ["cilium-operator-generic"]
    assert "ipam_provider_operator" in operator.tags
    assert all(r.startswith("github.com/osrg/gobgp/v4=") for r in agent.replaces)
    assert any(r.startswith("sigs.k8s.io/mcs-api/controllers=") for r in operator.replaces)
    assert (ciliumimages.SHIM_DIR / "go.mod").is_file()


def test_only_the_ebpf_cni_enforces_network_policy() -> None:
    assert [m for m in all_modes() if m.cni_enforces_network_policy] == [ProxyMode.parse("ebpf")]
