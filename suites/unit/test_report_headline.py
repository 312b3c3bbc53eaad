from __future__ import annotations

from typing import Any

import pytest

from proxylab.perf.summary import summarize
from reports.headline import FIGURES, table
from reports.sources import LEGACY, SCALE_TEST

from .report_fixtures import doc, rec, run

KEEPALIVE = "suites/performance/test_throughput.py::test_cluster_ip[keepalive]"
NEW_SERVICE = "suites/performance/test_programming.py::test_programming_latency_new_service"
FIRST_PACKET = "suites/performance/test_programming.py::test_first_packet_latency"
SCALE = f"suites/performance/test_programming.py::{SCALE_TEST}"


def fig(values: list[float], **extra: Any) -> dict[str, Any]:
    """A figure and its ``_stats`` as the performance suite records them (synthetic repeats)."""
    st = summarize(values).as_metrics() | extra
    return {"value": st["mean"], "stats": st}


def ratio(values: list[float], **extra: Any) -> dict[str, Any]:
    f = fig(values, **extra)
    return {"ratio_to_baseline": f["value"], "ratio_to_baseline_stats": f["stats"]}


def test_a_significant_difference_marks_the_better_mode_with_size_and_p() -> None:
    runs = [run(doc("nftables", tests=[rec(KEEPALIVE, **ratio([0.80, 0.81, 0.79, 0.80]))])),
            run(doc("iptables", tests=[rec(KEEPALIVE, **ratio([0.96, 0.95, 0.97, 0.96]))]))]
    [row] = table(runs)
    assert row.label.startswith("ClusterIP keep-alive throughput") and row.better == "higher"
    assert list(row.cells) == ["iptables", "nftables"], "columns follow the mode order"
    assert row.best == {"iptables"} and row.winners == {"iptables"}
    assert row.verdict().startswith("iptables better (higher): 1.20\u00d7 nftables (Welch p < 0.001)")
    ci = row.cells["iptables"].ci95
    assert ci is not None and ci[0] < 0.96 < ci[1] and row.cells["iptables"].n == 4


def test_overlapping_intervals_name_no_best_mode() -> None:
    runs = [run(doc("nftables", tests=[rec(KEEPALIVE, **ratio([0.80, 0.93, 0.88]))])),
            run(doc("iptables", tests=[rec(KEEPALIVE, **ratio([0.84, 0.95, 0.83]))]))]
    [row] = table(runs)
    assert row.best == frozenset() and row.winners == frozenset()
    assert row.verdict().startswith("no measurable difference (Welch p = ")
    assert "worse" not in row.verdict() and "best" not in row.verdict()


def test_without_repeat_values_nothing_is_ranked() -> None:
    runs = [run(doc("nftables", tests=[rec(KEEPALIVE, ratio_to_baseline=0.8)])),
            run(doc("iptables", tests=[rec(KEEPALIVE, ratio_to_baseline=0.96)]))]
    [row] = table(runs)
    assert row.values == {"iptables": 0.96, "nftables": 0.8} and row.best == frozenset()
    assert row.verdict().startswith("not testable: iptables n < 2")


def test_an_unreliable_figure_is_marked_and_kept_out_of_the_ranking() -> None:
    runs = [run(doc("nftables", tests=[rec(KEEPALIVE, **ratio([0.5, 0.8, 1.1]))])),
            run(doc("iptables", tests=[rec(KEEPALIVE, **ratio([0.96, 0.95, 0.97]))])),
            run(doc("ebpf", tests=[rec(KEEPALIVE, **ratio([0.81, 0.80, 0.79], reliable=False, cv_bound=0.005))]))]
    [row] = table(runs)
    assert row.cells["nftables"].unreliable == "unreliable (CV 38%)"
    assert "flagged by the suite" in row.cells["ebpf"].unreliable
    assert row.ranking.status == "untestable" and row.best == frozenset()


def test_curves_compare_at_the_largest_k_every_mode_measured_and_scale_units() -> None:
    ipt = {str(k): summarize(v).as_metrics() for k, v in
           {100: [1.05, 1.15], 1000: [1.27, 1.33], 3000: [2.3, 2.5]}.items()}
    ebpf = {str(k): summarize(v).as_metrics() for k, v in {100: [0.3, 0.31], 1000: [0.35, 0.36]}.items()}
    runs = [run(doc("iptables", tests=[rec(NEW_SERVICE, programming_latency={"100": 1.1, "1000": 1.3, "3000": 2.4},
                                           programming_latency_stats=ipt),
                                       rec(FIRST_PACKET, first_packet_latency={"100": 0.0002})])),
            run(doc("ebpf", tests=[rec(NEW_SERVICE, programming_latency={"100": 0.3, "1000": 0.35},
                                       programming_latency_stats=ebpf),
                                   rec(FIRST_PACKET, first_packet_latency={"100": 0.0003})]))]
    service, packet = table(runs)
    assert service.k == 1000 and "K = 1,000 Services" in service.label
    assert service.values == {"iptables": 1.3, "ebpf": 0.35}
    assert service.ranking.comparisons[0].p < 0.05 and service.best == {"ebpf"}, "tested on the K = 1000 repeats"
    assert packet.unit == "ms" and packet.values["iptables"] == pytest.approx(0.2)
    assert packet.ranking.status == "untestable", "first-packet latency has no repeat values"


def test_the_scale_test_has_headline_figures_at_the_largest_k() -> None:
    def curve(lo: list[float], hi: list[float]) -> tuple[dict[str, float], dict[str, Any]]:
        return ({"1000": sum(lo) / len(lo), "10000": sum(hi) / len(hi)},
                {"1000": summarize(lo).as_metrics(), "10000": summarize(hi).as_metrics()})

    def metrics(scale: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, (lo, hi) in {"newconn_rps": ([9000.0, 9100.0, 8900.0], [6000.0 * scale, 6100.0 * scale, 5900.0 * scale]),
                              "newconn_ratio_to_smallest_k": ([1.0, 1.0, 1.0], [0.66 * scale, 0.67 * scale, 0.65 * scale]),
                              "connect_p99_ms": ([1.0, 1.1, 0.9], [2.0, 2.1, 1.9]),
                              "kernel_cpu_us_per_request": ([20.0, 21.0, 19.0], [30.0 / scale, 31.0 / scale, 29.0 / scale])
                              }.items():
            out[key], out[f"{key}_stats"] = curve(lo, hi)
        out["dataplane_entries"] = {"1000": 5000, "10000": 50000}
        return out

    runs = [run(doc("iptables", tests=[rec(SCALE, **metrics(1.0))])),
            run(doc("nftables", tests=[rec(SCALE, **metrics(1.5))]))]
    rows = {r.label: r for r in table(runs)}
    assert set(rows) == {f"{f.label} (K = 10,000 Services)" for f in FIGURES if LEGACY[f.id][0] == SCALE_TEST}
    assert rows["many Services: new-connection throughput (K = 10,000 Services)"].best == {"nftables"}
    assert rows["many Services: kernel CPU per new connection (K = 10,000 Services)"].best == {"nftables"}
    assert rows["many Services: connect p99 latency (K = 10,000 Services)"].verdict().startswith("no measurable difference")


def test_failed_and_skipped_tests_and_unknown_figures_are_left_out() -> None:
    runs = [run(doc("iptables", tests=[rec(KEEPALIVE, "failed", "boom", ratio_to_baseline=0.1)])),
            run(doc("ipvs", tests=[rec(KEEPALIVE, "skipped", "no IPVS")])),
            run(doc("nftables", tests=[rec("suites/x.py::test_other", ratio_to_baseline=1.0)]))]
    assert table(runs) == []
