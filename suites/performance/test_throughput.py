"""Scenarios 1-3 (and 6 during steady load): the pod-IP baseline, keep-alive and
new-connection-per-request load through the ClusterIP, each repeated, with ratios to the baseline.

Same backends (5 echo pods spread over the workers), same client node, same locust settings for
the baseline and the Service; the baseline round-robins over the pod IPs, so no proxy rule is on
its path. Asserted is only what must hold: no failed request in steady state, and every request
accounted for (ours = locust's, successes = per-backend answers). The numbers are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from loadgen import LoadResult, LoadSpec, run_load
from proxylab import manifests
from proxylab.perf import resources, summary
from proxylab.perf.profile import PerfConfig
from suites.conformance.conftest import Namespace

from .conftest import ProxyObserver, client_node

pytestmark = pytest.mark.e2e

BACKENDS = 5
CONNS = {"keepalive": True, "newconn": False}


@dataclass
class Echo:
    ns: Namespace
    cluster_ip: str
    pods: dict[str, str]  # pod -> IP
    node: str | None


@pytest.fixture(scope="module")
def echo(namespace: Namespace) -> Echo:
    fx = namespace.fixture("echo", {"replicas": BACKENDS})
    st = fx.status()
    pods = {e["pod"]: e["ip"] for e in st["endpoints"] if e["ready"]}
    assert len(pods) == BACKENDS, st["endpoints"]
    ip = st["service"]["clusterIP"]
    namespace.wait_serving(namespace.probe_pod("warm", client_node(namespace)), f"http://{ip}/")
    return Echo(namespace, ip, pods, client_node(namespace))


@dataclass
class Pairs:
    """Per repeat: the baseline run and the Service run back to back, and the proxy's usage during
    the Service run. Interleaved so each ratio compares runs seconds apart (on a shared machine the
    background load drifts over minutes), and counterbalanced (baseline first in even repeats,
    Service first in odd ones) so whatever the first run of a pair pays, e.g. the previous run's
    locust pods still being torn down, does not bias the ratio one way."""

    baseline: list[LoadResult]
    service: list[LoadResult]
    usage: list[dict[str, float]]


_pairs: dict[str, Pairs] = {}  # conn -> its repeats, measured once per session (the first test pays)


def _run(e: Echo, perf: PerfConfig, targets: tuple[str, ...], keep_alive: bool, sticky: bool = False) -> LoadResult:
    spec = LoadSpec(targets=targets, users=perf.users, spawn_rate=max(perf.users, 1), duration_s=perf.duration_s,
                    keep_alive=keep_alive, sticky=sticky, node=e.node)
    return run_load(e.ns.api, e.ns.name, spec)


def _measure(e: Echo, perf: PerfConfig, proxy: ProxyObserver, conn: str) -> Pairs:
    if conn not in _pairs:
        pods = tuple(f"{ip}:{manifests.ECHO_HTTP_PORT}" for ip in e.pods.values())
        pairs = Pairs([], [], [])
        for i in range(perf.repeats):
            if i % 2 == 1:
                _service_run(e, perf, proxy, conn, pairs)
            # Keep-alive baseline: each user stays on one pod IP, as a kept-alive Service
            # connection stays on its backend; new-connection baseline: round-robin per request.
            pairs.baseline.append(_run(e, perf, pods, CONNS[conn], sticky=CONNS[conn]))
            if i % 2 == 0:
                _service_run(e, perf, proxy, conn, pairs)
        _pairs[conn] = pairs
    return _pairs[conn]


def _service_run(e: Echo, perf: PerfConfig, proxy: ProxyObserver, conn: str, pairs: Pairs) -> None:
    before = proxy.stats()
    pairs.service.append(_run(e, perf, (f"{e.cluster_ip}:80",), CONNS[conn]))
    pairs.usage.append(resources.totals(resources.usage(before, proxy.stats())))


def _consistent(res: LoadResult) -> None:
    assert res.requests == res.locust["num_requests"], (res.requests, res.locust)
    assert res.failures == res.locust["num_failures"], (res.failures, res.locust)
    assert sum(res.backends.values()) == res.requests - res.failures, (res.backends, res.requests)
    assert sum(s.requests for s in res.timeline) == res.requests


def _figures(res: LoadResult) -> dict[str, float | None]:
    return {"rps": summary.steady_rps([s.requests for s in res.timeline]), "p50_ms": res.latency.p50,
            "p95_ms": res.latency.p95, "p99_ms": res.latency.p99, "max_ms": res.latency.max}


def _record(metrics: dict[str, Any], results: list[LoadResult], perf: PerfConfig) -> dict[str, list[float | None]]:
    """Headline = mean over repeats; ``<figure>_stats`` = n, mean, sd, CV, 95 % CI, values."""
    per: dict[str, list[float | None]] = {}
    for res in results:
        for k, v in _figures(res).items():
            per.setdefault(k, []).append(v)
    for k, values in per.items():
        s = summary.summarize(values)
        metrics[k] = None if s.mean is None else round(s.mean, 3)
        metrics[f"{k}_stats"] = s.as_metrics()
    requests = sum(r.requests for r in results)
    metrics.update(
        perf=perf.to_json(), spec=results[0].spec, repeats=[r.summary() for r in results],
        requests=requests, failures=sum(r.failures for r in results),
        error_ratio=round(sum(r.failures for r in results) / requests, 6) if requests else None,
        generator_bound=any(r.generator_bound for r in results),
        rps_timeline=[[s.t, s.requests] for s in results[0].timeline],
        rps_method="steady state: mean requests per whole second, first and last second left out")
    return per


@pytest.mark.parametrize("conn", list(CONNS))
def test_baseline_pod_ips(echo: Echo, perf: PerfConfig, proxy: ProxyObserver, metrics: dict[str, Any],
                          conn: str) -> None:
    """Scenario 1: the physical limit, no Service and no proxy rule on the path. (Its Service runs
    are interleaved with it and recorded by test_cluster_ip.)"""
    results = _measure(echo, perf, proxy, conn).baseline
    _record(metrics, results, perf)
    for res in results:
        _consistent(res)
        assert res.failures == 0, res.failures_by_kind
        assert set(res.backends) == set(echo.pods), res.backends


@pytest.mark.parametrize("conn", list(CONNS))
def test_cluster_ip(echo: Echo, perf: PerfConfig, proxy: ProxyObserver, metrics: dict[str, Any], conn: str) -> None:
    """Scenarios 2 (keep-alive) and 3 (a new connection per request: the NAT/conntrack path),
    plus the proxy's CPU and memory during the runs (scenario 6, steady load)."""
    pairs = _measure(echo, perf, proxy, conn)
    base, results, usages = pairs.baseline, pairs.service, pairs.usage
    per = _record(metrics, results, perf)
    base_per: dict[str, list[float | None]] = {}
    for res in base:
        for k, v in _figures(res).items():
            base_per.setdefault(k, []).append(v)
    ratio = summary.summarize(summary.paired_ratios(per["rps"], base_per["rps"]))
    lat = summary.summarize(summary.paired_ratios(per["p50_ms"], base_per["p50_ms"]))
    p99 = summary.summarize(summary.paired_ratios(per["p99_ms"], base_per["p99_ms"]))
    cpu = summary.summarize([u["cpu_millicores"] for u in usages])
    mem = summary.summarize([u["memory_mib"] for u in usages])
    metrics.update(
        ratio_to_baseline=None if ratio.mean is None else round(ratio.mean, 4), ratio_to_baseline_stats=ratio.as_metrics(),
        latency_ratio=None if lat.mean is None else round(lat.mean, 4), latency_ratio_stats=lat.as_metrics(),
        p99_ratio_stats=p99.as_metrics(),
        baseline_rps=[v for v in base_per["rps"]], baseline_p50_ms=base_per["p50_ms"],
        ratio_method="per repeat: Service run i / baseline run i, run back to back (baseline first in even repeats, "
                     "Service first in odd ones; same client node, backends, load)",
        cpu_millicores=cpu.mean and round(cpu.mean, 1), cpu_millicores_stats=cpu.as_metrics(),
        memory_mib=mem.mean and round(mem.mean, 1), memory_mib_stats=mem.as_metrics(),
        proxy_usage=usages,
        proxy_usage_method="kube-proxy containers on all nodes, crictl stats before/after each Service load run "
                           "(locust pod start-up included); CPU = delta cgroup usage / delta time, summed")
    for res in results:
        _consistent(res)
        assert res.failures == 0, res.failures_by_kind
        assert set(res.backends) <= set(echo.pods), res.backends
