"""What each proxy holds for one address (proxylab/perf/dataplane.py ``entries_*``): the pure
parsers behind ``ProxyMode.dataplane_entries`` (suites/production/test_service_changes.py asks
it that a deleted Service, or a removed port, left nothing behind).

Samples: iptables lines (data/iptables-save-sample.txt) as kube-proxy 1.34 wrote them on a
proxylab-dev node, plus a filter-table REJECT for a Service without endpoints in kube-proxy's
format; the nftables JSON is what nft
1.0.6 (the kind node image) lists for suites/unit/data/nft-kube-proxy-sample.nft, a table laid out
like kube-proxy's (cluster-ips set, service-ips and no-endpoint-services maps, service chains);
ipvsadm and Cilium's ``bpf lb list -o json`` follow their documented/source formats."""

from __future__ import annotations

import json
from pathlib import Path

from proxylab.perf import dataplane

DATA = Path(__file__).parent / "data"

IPTABLES_SAVE = (DATA / "iptables-save-sample.txt").read_text()


def test_iptables_entries_match_the_exact_address_and_port_in_every_table() -> None:
    found = dataplane.entries_iptables(IPTABLES_SAVE, "10.96.0.10")
    assert len(found) == 3  # two KUBE-SERVICES jumps and the masquerade rule; not 10.96.0.100
    assert all("10.96.0.10/32" in line for line in found)
    by_port = dataplane.entries_iptables(IPTABLES_SAVE, "10.96.0.10", 53)
    assert len(by_port) == 2 and all("--dport 53" in line for line in by_port)
    assert dataplane.entries_iptables(IPTABLES_SAVE, "10.96.0.10", 9153) == [found[1]]
    assert dataplane.entries_iptables(IPTABLES_SAVE, "10.96.0.10", 80) == []
    assert dataplane.entries_iptables(IPTABLES_SAVE, "10.96.5.5", 80)[0].endswith("icmp-port-unreachable")
    assert dataplane.entries_iptables(IPTABLES_SAVE, "10.96.0.1") == []
    assert dataplane.entries_iptables(IPTABLES_SAVE, "10.244.1.3") == []  # a source, not a destination


def _nft() -> dict[str, object]:
    doc: dict[str, object] = json.loads((DATA / "nft-kube-proxy-sample.json").read_text())
    return doc


def test_nft_entries_find_set_and_map_elements_and_service_rules() -> None:
    found = dataplane.entries_nft(_nft(), "10.96.100.7")
    assert "set cluster-ips element 10.96.100.7" in found
    assert sum(1 for f in found if f.startswith("map service-ips element 10.96.100.7 . tcp . ")) == 2
    assert sum(1 for f in found if f.startswith("chain service-")) == 2
    assert not any("10.96.100.70" in f for f in found)  # a longer address is another one


def test_nft_entries_by_port_leave_the_other_ports_and_the_per_address_set_out() -> None:
    found = dataplane.entries_nft(_nft(), "10.96.100.7", 8000)
    assert len(found) == 2, found
    assert found[0].startswith("map service-ips element 10.96.100.7 . tcp . 8000 : ")
    assert "service-BBB-ns/web/tcp/alt" in found[0]
    assert found[1].startswith("chain service-BBB-ns/web/tcp/alt rule ")
    assert dataplane.entries_nft(_nft(), "10.96.100.7", 9999) == []
    assert dataplane.entries_nft(_nft(), "10.96.100.8", 80)[0].startswith("map no-endpoint-services element")
    assert dataplane.entries_nft({"nftables": []}, "10.96.100.7") == []


IPVSADM = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.96.0.1:443 rr
  -> 172.18.0.3:6443              Masq    1      0          0
TCP  10.96.100.7:80 rr
  -> 10.244.1.5:8080              Masq    1      0          0
  -> 10.244.2.6:8080              Masq    1      0          0
TCP  10.96.100.7:8000 rr
  -> 10.244.1.5:8080              Masq    1      0          0
TCP  10.96.100.70:80 rr
UDP  10.96.0.10:53 rr
  -> 10.244.0.4:53                Masq    1      0          0
"""


def test_ipvs_entries_are_virtual_services_with_their_real_servers() -> None:
    assert dataplane.entries_ipvs(IPVSADM, "10.96.100.7") == [
        "TCP  10.96.100.7:80 rr", "-> 10.244.1.5:8080              Masq    1      0          0",
        "-> 10.244.2.6:8080              Masq    1      0          0",
        "TCP  10.96.100.7:8000 rr", "-> 10.244.1.5:8080              Masq    1      0          0"]
    assert dataplane.entries_ipvs(IPVSADM, "10.96.100.7", 8000)[0] == "TCP  10.96.100.7:8000 rr"
    assert len(dataplane.entries_ipvs(IPVSADM, "10.96.100.7", 8000)) == 2
    assert dataplane.entries_ipvs(IPVSADM, "10.96.100.70") == ["TCP  10.96.100.70:80 rr"]
    assert dataplane.entries_ipvs(IPVSADM, "10.96.100.9") == []


def test_ipvs_address_bound_on_kube_ipvs0() -> None:
    listing = ("7: kube-ipvs0    inet 10.96.100.7/32 scope global kube-ipvs0\\       valid_lft forever\n"
               "7: kube-ipvs0    inet 10.96.100.70/32 scope global kube-ipvs0\\       valid_lft forever\n")
    assert dataplane.entries_ipvs_addresses(listing, "10.96.100.7") == [listing.splitlines()[0].strip()]
    assert dataplane.entries_ipvs_addresses(listing, "10.96.100.8") == []


CILIUM_LB = {
    "10.96.100.7:80/TCP (0)": ["0.0.0.0:0 (12) (0) [ClusterIP, non-routable]", "10.244.1.5:8080/TCP (12) (1)"],
    "10.96.100.7:80/TCP/i (0)": ["0.0.0.0:0 (12) (0) [ClusterIP, non-routable]"],
    "10.96.100.7:8000/TCP (0)": ["0.0.0.0:0 (13) (0) [ClusterIP, non-routable]"],
    "10.96.100.70:80/TCP (0)": ["0.0.0.0:0 (14) (0) [ClusterIP, non-routable]"],
    "172.18.0.3:30080/TCP (0)": ["0.0.0.0:0 (15) (0) [NodePort]"],
    "10.96.100.7:80 (1)": ["10.244.1.5:8080/TCP (12) (1)"],  # an older key format, no protocol
}


def test_cilium_entries_are_frontends_of_the_bpf_service_map() -> None:
    found = dataplane.entries_cilium_lb(CILIUM_LB, "10.96.100.7")
    assert len(found) == 4 and not any(f.startswith("10.96.100.70") for f in found)
    assert found[0] == ("10.96.100.7:80/TCP (0) -> 0.0.0.0:0 (12) (0) [ClusterIP, non-routable]; "
                        "10.244.1.5:8080/TCP (12) (1)")
    assert [f.split(" ->")[0] for f in dataplane.entries_cilium_lb(CILIUM_LB, "10.96.100.7", 8000)] == \
        ["10.96.100.7:8000/TCP (0)"]
    assert dataplane.entries_cilium_lb(CILIUM_LB, "10.96.100.7", 800) == []  # 8000 is not 800
    assert dataplane.entries_cilium_lb({}, "10.96.100.7") == []


NAT_SAVE = """*nat
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp --dport 53 -j KUBE-SVC-DNS
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https" -m tcp --dport 443 -j KUBE-SVC-API
-A KUBE-SVC-API -j KUBE-SEP-ABC
-A KUBE-SERVICES -d 10.96.4.7/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-AAAA
-A KUBE-SERVICES -d 10.96.4.8/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-BBBB
-A KUBE-SERVICES -d 10.96.4.9/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-CCCC
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
"""


def test_service_match_order_lists_the_chain_in_order() -> None:
    assert dataplane.service_match_order(NAT_SAVE) == [
        "10.96.0.10:53", "10.96.0.1:443", "10.96.4.7:80", "10.96.4.8:80", "10.96.4.9:80", ""]


def test_middle_of_picks_the_candidate_nearest_the_middle() -> None:
    order = dataplane.service_match_order(NAT_SAVE)
    assert dataplane.middle_of(order, {"10.96.4.7:80", "10.96.4.8:80", "10.96.4.9:80"}) == 2  # middle 2.5: the first of a tie
    assert dataplane.middle_of(order, {"10.96.4.9:80"}) == 4
    assert dataplane.middle_of(order, {"10.1.1.1:80"}) is None
    assert dataplane.middle_of([], {"10.96.4.9:80"}) is None
