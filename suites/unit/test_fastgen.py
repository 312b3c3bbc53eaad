"""The compiled instruments' harness side: spec checks, result parsing, validity, dataplane counts (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loadgen import LoadRunFailed, LoadSpecError, fastgen, validity
from loadgen.fastgen import FastSpec
from proxylab.perf import dataplane, interference


def _raw(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "tool": "wrk", "exit": 0, "wall_s": 5.0, "gen_user_s": 0.5, "gen_sys_s": 1.5, "gen_cpu_s": 2.0,
        "gen_cores": 0.4, "host_cpu_s": {"user": 2.0, "nice": 0, "system": 3.0, "idle": 4.0, "iowait": 0, "irq": 0,
                                          "softirq": 1.0, "steal": 0},
        "ncpu": 2, "loadavg_before": [1, 1, 1], "loadavg_after": [1, 1, 1], "requests": 10_000,
        "duration_s": 5.0, "errors": {}, "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 4.0, "max": 9.0, "mean": 1.2}}
    raw.update(over)
    return raw


def test_spec_is_checked_and_builds_the_driver_command_line() -> None:
    spec = FastSpec("10.96.0.20:80", keep_alive=False, duration_s=3)
    assert spec.argv() == ["wrk", "http://10.96.0.20:80/", "3", "10", "1", "false", "3"]
    assert FastSpec("10.0.0.1:8080", tool="vegeta", rate=500).argv()[:4] == ["vegeta", "http://10.0.0.1:8080/", "5", "500"]
    for bad in ({"target": "nohost"}, {"target": "a:0"}, {"target": "a:99999"}, {"duration_s": 0},
                {"tool": "vegeta"}, {"threads": 20, "connections": 10}, {"timeout_s": float("nan")}):
        kwargs: dict[str, Any] = {"target": "10.0.0.1:80", **bad}
        with pytest.raises(LoadSpecError):
            FastSpec(**kwargs)


def test_result_from_the_driver_line() -> None:
    spec = FastSpec("10.96.0.20:80")
    res = fastgen.parse_output(spec, "noise\n" + fastgen.MARKER + json.dumps(_raw()) + "\n")
    assert res.ok == 10_000 and res.rps == 2000.0
    assert res.kernel_cpu_s == 4.0 and res.kernel_us_per_request == 400.0
    assert not res.generator_bound and res.gen_cores == pytest.approx(0.4)
    assert not res.generator_heavier_than_path  # 2 s of 6 s busy
    assert res.summary()["latency_ms"]["p99"] == 4.0
    # wrk counts non-2xx answers in requests and in errors.status: they are not successes
    with_status = fastgen.from_raw(spec, _raw(errors={"status": 10}))
    assert with_status.ok == 9_990
    # results carry proxylab's failure kinds, and wrk's own counters beside them
    assert with_status.errors == {"other:wrk_status": 10} and with_status.tool_errors == {"status": 10}
    veg = fastgen.from_raw(FastSpec("10.96.0.20:80", tool="vegeta", rate=100),
                           _raw(tool="vegeta", requests=500, ok=497, errors={"failed": 3},
                                status_codes={"200": 497, "0": 3}, error_texts=["read: connection reset by peer"]))
    assert veg.errors == {"reset": 3} and veg.summary()["tool_errors"] == {"failed": 3}
    with pytest.raises(LoadRunFailed, match="no summary"):
        fastgen.from_raw(spec, {"error": "wrk printed no summary"})
    with pytest.raises(LoadRunFailed, match="no result"):
        fastgen.parse_output(spec, "Traceback ...")


def test_generator_flags() -> None:
    spec = FastSpec("10.96.0.20:80")
    bound = fastgen.from_raw(spec, _raw(gen_cpu_s=4.8, host_cpu_s={"user": 4.0, "system": 1.0, "idle": 4.0}))
    assert bound.generator_bound and bound.generator_heavier_than_path


def test_empty_short_and_behind_schedule_runs_are_invalid() -> None:
    spec = FastSpec("10.96.0.20:80", duration_s=5)
    assert validity.fast_problems(fastgen.from_raw(spec, _raw())) == []
    assert "no request answered" in validity.fast_problems(fastgen.from_raw(spec, _raw(requests=0)))[0]
    assert "ran 1.00 s of the 5 s" in validity.fast_problems(fastgen.from_raw(spec, _raw(duration_s=1.0)))[0]
    veg = FastSpec("10.96.0.20:80", tool="vegeta", rate=1000, duration_s=5)
    behind = fastgen.from_raw(veg, _raw(tool="vegeta", requests=3000, ok=3000))
    assert "could not keep the offered rate" in validity.fast_problems(behind)[0]
    assert validity.outside_problems(0.2, 2) == []
    assert "starved" in validity.outside_problems(1.5, 2)[0]
    assert validity.outside_problems(None, 2) == []


def test_a_client_short_of_source_ports_is_invalid() -> None:
    """Measured on ebpf: 462 req/s with 18,000 of 28,232 ports in TIME_WAIT, 13,267 with 9,653."""
    spec = FastSpec("10.96.0.20:80", keep_alive=False)
    starved = fastgen.from_raw(spec, _raw(client_time_wait_before=14_000, client_time_wait_after=18_000,
                                          ephemeral_ports=28_232))
    assert starved.summary()["client_time_wait"] == [14_000, 18_000]
    problems = validity.fast_problems(starved)
    assert len(problems) == 1 and "18000 of its 28232 source ports in TIME_WAIT (64% > 35%)" in problems[0]
    ok = fastgen.from_raw(spec, _raw(client_time_wait_before=0, client_time_wait_after=9_653, ephemeral_ports=28_232))
    assert validity.fast_problems(ok) == []
    # a driver that did not report its sockets is not judged on them
    assert fastgen.from_raw(spec, _raw()).client_port_share_held is None


def test_the_driver_counts_ephemeral_ports_less_the_reserved() -> None:
    from loadgen.agent import fastrun
    assert fastrun.count_ports("32768\t60999\n", "\n") == 28_232
    assert fastrun.count_ports("1024 65535", "30000-32767") == 61_744
    assert fastrun.count_ports("1024 65535", "80,30000-32767,70000") == 61_744  # outside the range: not counted
    assert fastrun.count_ports("40000 40009", "40005-40100,40000") == 4
    assert fastrun.count_ports("garbage", "") is None
    assert dict(fastgen.GENERATOR_SYSCTLS)["net.ipv4.ip_local_port_range"] == "1024 65535"


CONNTRACK_STAT = (  # /proc/net/stat/nf_conntrack as read on this host after the host table filled
    "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error "
    " expect_new expect_create expect_delete search_restart\n"
    "00038ed1  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000078 00000000 "
    "00000000  00000000 00000000 00000000 00000000\n"
    "00038ed1  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 000000a1 00000000 "
    "00000000  00000000 00000000 00000000 00000000\n")


def test_host_conntrack_drops_make_a_run_invalid() -> None:
    assert interference.conntrack_drops(CONNTRACK_STAT) == 0x78 + 0xA1
    assert interference.conntrack_drops("entries found\n00000001 00000000\n") is None  # no drop column
    a = interference.Sample(0.0, 1.0, 0.5, 281)
    b = interference.Sample(5.0, 6.0, 3.0, 300)
    seen = interference.between(a, b)
    assert seen["host_conntrack_drops"] == 19
    assert "dropped 19 packets" in validity.conntrack_problems(seen["host_conntrack_drops"])[0]
    assert validity.conntrack_problems(0) == [] and validity.conntrack_problems(None) == []
    assert interference.between(interference.Sample(0.0, 1.0, 0.5), b)["host_conntrack_drops"] is None


def test_measure_reruns_once_then_fails() -> None:
    runs = iter([0, 5])
    got = validity.measure(lambda: next(runs), lambda r: [] if r else ["empty"], "x")
    assert got.result == 5 and got.discarded == ("empty",)
    with pytest.raises(validity.InvalidRun, match=r"invalid twice.*first run: empty; re-run: empty"):
        validity.measure(lambda: 0, lambda r: ["empty"], "x")
    calls: list[int] = []

    def counted() -> int:
        calls.append(1)
        return 1
    assert validity.measure(counted, lambda r: [], "x").discarded == ()
    assert len(calls) == 1


def test_interference_split() -> None:
    a = interference.Sample(t=0.0, host_busy_s=10.0, cluster_s=4.0)
    b = interference.Sample(t=2.0, host_busy_s=13.0, cluster_s=6.0)
    got = interference.between(a, b)
    assert got["host_cores"] == 1.5 and got["cluster_cores"] == 1.0 and got["outside_cores"] == 0.5
    assert interference.between(a, interference.Sample(2.0, 13.0, None))["outside_cores"] is None


def test_dataplane_counts() -> None:
    save = ":KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-X\n" \
           "-A KUBE-SVC-X -j KUBE-SEP-Y\n-A POSTROUTING -j KUBE-POSTROUTING\n"
    assert dataplane.count_iptables(save) == {"rules": 2, "chains": 2}
    doc = {"nftables": [{"metainfo": {}}, {"table": {}}, {"chain": {}}, {"rule": {}}, {"rule": {}},
                        {"map": {"name": "service-ips", "elem": [[1, 2], [3, 4]]}}, {"set": {"name": "s"}}]}
    assert dataplane.count_nft(doc) == {"rules": 2, "chains": 1, "elements": 2}
    ipvs = "IP Virtual Server version 1.2.1\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port\n" \
           "TCP  10.96.0.1:443 rr\n  -> 172.18.0.2:6443  Masq 1 0 0\nUDP  10.96.0.10:53 rr\n"
    assert dataplane.count_ipvs(ipvs) == {"services": 2, "real_servers": 1}
    svc: list[dict[str, Any]] = [{"status": {"realized": {"backend-addresses": [{"ip": "10.244.1.2"}]}}}, {"status": {}}]
    assert dataplane.count_cilium(svc) == {"services": 2, "backend_slots": 1}


def test_sweep_limits() -> None:
    from proxylab.modes import ProxyMode
    limit, why = ProxyMode.parse("ebpf").sweep_limit()
    assert limit is not None and limit >= 50_000 and "bpf-lb-map-max" in why
    assert ProxyMode.parse("iptables").sweep_limit()[0] is None


def test_wait_quiet_waits_for_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proxylab.perf.interference.time.sleep", lambda s: None)
    busy = iter([0.0, 3.0, 3.0, 6.0, 6.0, 6.1])  # cluster CPU seconds: 3 cores, 3 cores, then 0.1

    class Fake(interference.Sampler):
        def __init__(self) -> None:
            self.nodes = []
            self.t = 0.0

        def sample(self) -> interference.Sample:
            self.t += 1.0
            return interference.Sample(self.t, 0.0, next(busy))
    got = interference.wait_quiet(Fake(), max_cores=0.5)
    assert got["quiet"] is True and got["cluster_cores"] == 0.1


def test_main_count_per_mode() -> None:
    assert dataplane.main_count({"rules": 50_099, "chains": 20_043}) == 50_099
    assert dataplane.main_count({"rules": 40_097, "chains": 20_053, "elements": 20_033}) == 60_130
    assert dataplane.main_count({"services": 10_017, "backend_slots": 10_020}) == 10_017
