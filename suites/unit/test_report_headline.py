from __future__ import annotations

import pytest

from reports.headline import HeadlineRow, table

from .report_fixtures import doc, rec, run

KEEPALIVE = "suites/performance/test_throughput.py::test_cluster_ip[keepalive]"
NEW_SERVICE = "suites/performance/test_programming.py::test_programming_latency_new_service"
FIRST_PACKET = "suites/performance/test_programming.py::test_first_packet_latency"


def test_best_mode_is_marked_and_others_get_how_many_times_worse() -> None:
    runs = [run(doc("nftables", tests=[rec(KEEPALIVE, ratio_to_baseline=0.8)])),
            run(doc("iptables", tests=[rec(KEEPALIVE, ratio_to_baseline=0.96)]))]
    [row] = table(runs)
    assert row.label.startswith("ClusterIP keep-alive throughput") and row.better == "higher"
    assert list(row.values) == ["iptables", "nftables"], "columns follow the mode order"
    assert row.best == {"iptables"}
    assert row.times_best("iptables") == 1.0
    assert row.times_best("nftables") == pytest.approx(1.2)


def test_curves_compare_at_the_largest_k_every_mode_measured_and_scale_units() -> None:
    runs = [run(doc("iptables", tests=[rec(NEW_SERVICE, programming_latency={"100": 1.1, "1000": 1.3, "3000": 2.4}),
                                       rec(FIRST_PACKET, first_packet_latency={"100": 0.0002})])),
            run(doc("ebpf", tests=[rec(NEW_SERVICE, programming_latency={"100": 0.3, "1000": 0.35}),
                                   rec(FIRST_PACKET, first_packet_latency={"100": 0.0003})]))]
    service, packet = table(runs)
    assert "K = 1000" in service.label and service.values == {"iptables": 1.3, "ebpf": 0.35}
    assert service.best == {"ebpf"}
    assert packet.unit == "ms" and packet.values["iptables"] == pytest.approx(0.2)


def test_failed_and_skipped_tests_and_unknown_figures_are_left_out() -> None:
    runs = [run(doc("iptables", tests=[rec(KEEPALIVE, "failed", "boom", ratio_to_baseline=0.1)])),
            run(doc("ipvs", tests=[rec(KEEPALIVE, "skipped", "no IPVS")])),
            run(doc("nftables", tests=[rec("suites/x.py::test_other", ratio_to_baseline=1.0)]))]
    assert table(runs) == []


def test_zero_is_best_and_ties_share_it() -> None:
    row = HeadlineRow("failed requests", "", "lower", {"iptables": 0.0, "nftables": 0.0, "ebpf": 3.0},
                      frozenset({"iptables", "nftables"}))
    assert row.times_best("nftables") == 1.0
    assert row.times_best("ebpf") is None, "no ratio to zero"
    assert row.times_best("ipvs") is None
