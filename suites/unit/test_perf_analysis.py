"""Pure parts of the performance suite: repeat statistics, failover analysis, kube-proxy
histograms, crictl stats, profiles. (The in-pod probe, the echo binary: test_echo_probe.py.)"""

from __future__ import annotations

import math

import pytest
from scipy import stats as sp

from proxylab.convergence import Sample, parse_series
from proxylab.perf import failover, profile, promtext, resources, summary


def test_summary_mean_cv_and_t_interval() -> None:
    s = summary.summarize([10.0, 12.0, 14.0])
    assert s.n == 3 and s.mean == pytest.approx(12.0) and s.sd == pytest.approx(2.0)
    assert s.cv == pytest.approx(2.0 / 12.0)
    half = sp.t.ppf(0.975, 2) * 2.0 / math.sqrt(3)  # 4.303 * 1.155 = 4.97
    assert s.ci95 == pytest.approx((12.0 - half, 12.0 + half))
    assert s.as_metrics()["ci95"][0] == pytest.approx(12.0 - half, abs=1e-4)


def test_summary_edge_cases() -> None:
    assert summary.summarize([]).mean is None
    one = summary.summarize([5.0, None])
    assert one.n == 1 and one.mean == 5.0 and one.ci95 is None and one.cv is None
    same = summary.summarize([2.0, 2.0])
    assert same.ci95 == (2.0, 2.0) and same.cv == 0.0


def test_paired_ratios() -> None:
    assert summary.paired_ratios([8.0, None, 3.0], [10.0, 5.0, 0.0]) == [0.8, None, None]
    with pytest.raises(ValueError, match="pair them"):
        summary.paired_ratios([1.0], [1.0, 2.0])


def test_steady_rps_drops_partial_edges() -> None:
    assert summary.steady_rps([300, 1000, 1010, 990, 400]) == pytest.approx(1000.0)
    assert summary.steady_rps([10, 20]) == 15.0
    assert summary.steady_rps([]) == 0.0


def _series(pods: list[str], start: float, step: float) -> list[Sample]:
    return [Sample(start + i * step, p) for i, p in enumerate(pods)]


def test_failover_kill_with_errors_and_replacement() -> None:
    original = ["a", "b", "v"]
    # fault at 1000 ms; victim answers until 1200, errors at 1300 and 1400, replacement "n" from 2000
    samples = [*_series(["a", "v", "b", "v"], 0, 300), *parse_series([(1100.0, "v"), (1200.0, "v"), (1300.0, "!timeout"),
               (1400.0, "!refused"), (1500.0, "a"), (2000.0, "n"), (2100.0, "b")])]
    f = failover.analyse(samples, 1000.0, "v", original)
    assert f.errors == 2 and f.errors_by_kind == {"timeout": 1, "refused": 1}
    assert f.last_error_s == 0.4
    assert f.victim_gone_s == 0.3  # the sample after the victim's last answer (1200) came at 1300
    assert f.replacement_s == 1.0
    assert f.failover_s == 0.4
    assert f.samples == len(samples) and sum(f.backend_counts.values()) + f.errors == f.samples
    assert dict((t, e) for t, e in f.error_timeline)[0.0] == 2.0


def test_failover_victim_never_seen_and_never_gone() -> None:
    f = failover.analyse(parse_series([(0.0, "v"), (1500.0, "a")]), 1000.0, "v", ["a", "v"])
    assert f.victim_gone_s == 0.0 and f.last_error_s is None and f.replacement_s is None
    stuck = failover.analyse(parse_series([(1100.0, "a"), (1200.0, "v")]), 1000.0, "v", ["a", "v"])
    assert stuck.victim_gone_s is None and stuck.failover_s is None


def test_failover_readmission() -> None:
    samples = parse_series([(1100.0, "v"), (1200.0, "a"), (1300.0, "a"), (5000.0, "a"), (5400.0, "v")])
    f = failover.analyse(samples, 1000.0, "v", ["a", "v"], readmitted_at_ms=5000.0)
    assert f.victim_gone_s == 0.2 and f.victim_back_s == 0.4


def test_failover_victim_share_timeline() -> None:
    samples = parse_series([(0.0, "v"), (100.0, "a"), (1000.0, "a"), (1500.0, "!reset")])
    errors, share = failover.per_second(samples, 0.0, "v")
    assert errors == [[0.0, 0.0], [1.0, 1.0]]
    assert share == [[0.0, 0.5], [1.0, 0.0]]


SCRAPE = """# HELP kubeproxy_sync_proxy_rules_duration_seconds x
# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram
kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.001"} {a}
kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.1"} {b}
kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="1"} {c}
kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="+Inf"} {c}
kubeproxy_sync_proxy_rules_duration_seconds_sum {s}
kubeproxy_sync_proxy_rules_duration_seconds_count {c}
kubeproxy_sync_proxy_rules_last_timestamp_seconds 1.7e9
"""


def _scrape(a: int, b: int, c: int, s: float) -> str:
    return SCRAPE.replace("{a}", str(a)).replace("{b}", str(b)).replace("{c}", str(c)).replace("{s}", str(s))


def test_histogram_parse_delta_and_quantile() -> None:
    name = "kubeproxy_sync_proxy_rules_duration_seconds"
    h = promtext.histogram(_scrape(1, 3, 4, 1.0), name)
    assert h is not None and h.count == 4 and h.buckets[math.inf] == 4
    d = promtext.delta_over_nodes({"n1": _scrape(1, 3, 4, 1.0), "n2": ""},
                                  {"n1": _scrape(1, 5, 8, 2.0), "n2": _scrape(0, 0, 2, 1.2)}, name)
    assert d is not None and d.count == 6 and d.sum == pytest.approx(2.2)
    # cumulative deltas: <=0.001: 0, <=0.1: 2, <=1: 6 -> median (rank 3) interpolates in (0.1, 1]
    assert d.quantile(0.5) == pytest.approx(0.1 + 0.9 * (3 - 2) / 4)
    assert d.summary()["mean_s"] == pytest.approx(2.2 / 6, abs=1e-4)
    assert promtext.histogram("other_metric 1\n", name) is None
    assert promtext.Histogram().quantile(0.5) is None


def test_histogram_quantile_in_inf_bucket_is_its_lower_bound() -> None:
    h = promtext.Histogram({1.0: 0.0, math.inf: 2.0}, 5.0, 2.0)
    assert h.quantile(0.99) == 1.0


def _stat(pod: str, cpu: int, ts: int, mem: int) -> dict[str, object]:
    return {"attributes": {"metadata": {"name": "kube-proxy"}, "labels": {"io.kubernetes.pod.name": pod}},
            "cpu": {"timestamp": str(ts), "usageCoreNanoSeconds": {"value": str(cpu)}},
            "memory": {"workingSetBytes": {"value": str(mem)}}}


def test_crictl_usage() -> None:
    before = resources.parse_crictl_stats({"stats": [_stat("kp-a", 1_000_000_000, 10**9, 20 * 2**20),
                                                     _stat("kp-b", 5, 10**9, 2**20)]})
    after = resources.parse_crictl_stats({"stats": [_stat("kp-a", 1_500_000_000, 3 * 10**9, 30 * 2**20),
                                                    _stat("kp-b", 1, 3 * 10**9, 2**20),  # restarted: left out
                                                    _stat("kp-c", 9, 3 * 10**9, 2**20)]})  # new: left out
    use = resources.usage(before, after)
    assert [(u.pod, u.cpu_millicores, u.memory_mib, u.seconds) for u in use] == [("kp-a", 250.0, 30.0, 2.0)]
    assert resources.totals(use) == {"cpu_millicores": 250.0, "memory_mib": 30.0}
    assert resources.parse_crictl_stats({"stats": [_stat("x", 1, 1, 1)]}, container="other") == []


def test_profiles_and_overrides() -> None:
    assert profile.resolve("default", {}).sweep == (1000, 5000, 10_000)
    assert profile.resolve("nightly", {}).sweep[-1] == 30_000
    short = profile.resolve("short", {"repeats": None})
    assert short.sweep == (100, 1000) and short.repeats == 2
    c = profile.resolve("default", {"sweep": "3000, 100,100", "repeats": 5})
    assert c.sweep == (100, 3000) and c.repeats == 5
    assert c.to_json()["sweep"] == [100, 3000]
    with pytest.raises(ValueError, match="--perf-profile"):
        profile.resolve("huge", {})
    with pytest.raises(ValueError, match="--perf-services-sweep"):
        profile.resolve("default", {"sweep": "100,x"})
    with pytest.raises(ValueError, match="--perf-repeats"):
        profile.resolve("default", {"repeats": 0})


def test_histogram_label_filter_and_unparseable_scrapes() -> None:
    text = """# TYPE cilium_reconciler_duration_seconds histogram
cilium_reconciler_duration_seconds_bucket{module_id="agent.controlplane.loadbalancer",le="0.5"} 2
cilium_reconciler_duration_seconds_bucket{module_id="agent.controlplane.loadbalancer",le="+Inf"} 3
cilium_reconciler_duration_seconds_sum{module_id="agent.controlplane.loadbalancer"} 1.5
cilium_reconciler_duration_seconds_count{module_id="agent.controlplane.loadbalancer"} 3
cilium_reconciler_duration_seconds_bucket{module_id="agent.datapath.other",le="0.5"} 7
cilium_reconciler_duration_seconds_bucket{module_id="agent.datapath.other",le="+Inf"} 7
cilium_reconciler_duration_seconds_sum{module_id="agent.datapath.other"} 0.1
cilium_reconciler_duration_seconds_count{module_id="agent.datapath.other"} 7
"""
    name = "cilium_reconciler_duration_seconds"
    lb = promtext.histogram(text, name, "loadbalancer")
    assert lb == promtext.Histogram({0.5: 2.0, math.inf: 3.0}, 1.5, 3.0)
    both = promtext.histogram(text, name)
    assert both is not None and both.count == 10 and both.buckets[0.5] == 9
    assert promtext.histogram(text, name, "nothing-matches") is None
    assert promtext.histogram("curl: (7) Failed to connect to 127.0.0.1 port 10249", name) is None
