"""Scenarios 1-3 (and 6 during steady load): the pod-IP baseline, keep-alive and
new-connection-per-request load through the ClusterIP, each repeated, with ratios to the baseline.

Same backends (5 echo pods spread over the workers), same client node, same locust settings for
the baseline and the Service; the baseline round-robins over the pod IPs, so no proxy rule is on
its path. Asserted is only what must hold: no failed request in steady state, and every request
accounted for (ours = locust's, successes = per-backend answers). The numbers are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from loadgen import LoadResult, LoadSpec, run_load, validity
from loadgen.fastgen import FastSpec
from proxylab import manifests
from proxylab.perf import resources, summary
from proxylab.perf.profile import PerfConfig
from proxylab.results import MetricId, records
from suites.namespaces import Namespace

from . import datapath
from .conftest import ProxyObserver, client_node, datapath_client

# The locust runs (scenarios 1-3) need no view of the nodes from this host, so they also run on a
# remote cluster (the proxy's CPU comes through the node agent); the wrk/vegeta data path checks
# the node containers' CPU on this host (perf/interference.py): `node_access`, local kind only.
pytestmark = [pytest.mark.e2e]

BACKENDS = 5
CONNS = {"keepalive": True, "newconn": False}

# Stable ids of the figures the report's headline compares (reports/headline.py), recorded in results.json.
KEEPALIVE_RATIO = MetricId("throughput.keepalive.ratio_to_baseline", "ratio_to_baseline", param="keepalive")
NEWCONN_RATIO = MetricId("throughput.newconn.ratio_to_baseline", "ratio_to_baseline", param="newconn")
NEWCONN_P99 = MetricId("throughput.newconn.p99_ms", "p99_ms", param="newconn")
DATAPATH_KEEPALIVE_RATIO = MetricId("datapath.keepalive.ratio_to_baseline", "ratio_to_baseline", param="keepalive")
DATAPATH_NEWCONN_RATIO = MetricId("datapath.newconn.ratio_to_baseline", "ratio_to_baseline", param="newconn")
DATAPATH_NEWCONN_KERNEL_CPU = MetricId("datapath.newconn.kernel_us_per_request", "kernel_us_per_request",
                                       param="newconn")


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


@pytest.fixture(scope="module", autouse=True)
def enough_nodes_for_load_workers(namespace: Namespace, perf: PerfConfig) -> None:
    """--load-workers N puts one locust worker per node: with fewer worker nodes the pods would stay Pending."""
    nodes = namespace.workers
    if perf.load_workers > max(len(nodes), 1):
        pytest.fail(f"--load-workers {perf.load_workers}: the cluster has {len(nodes)} worker node(s) "
                    f"({', '.join(nodes) or 'none'}) and each locust worker needs its own; give at most "
                    f"{max(len(nodes), 1)}", pytrace=False)


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


@dataclass
class Runs:
    """This module's locust measurements, shared by the tests that report them: the pairs of each
    connection kind are measured once, by whichever of test_baseline_pod_ips / test_cluster_ip
    comes first (the first pays), and the reasons of invalid runs that were re-run."""

    pairs: dict[str, Pairs] = field(default_factory=dict)
    discarded: list[str] = field(default_factory=list)  # recorded by test_cluster_ip


@pytest.fixture(scope="module")
def runs() -> Runs:
    return Runs()


def _run(e: Echo, perf: PerfConfig, runs: Runs, targets: tuple[str, ...], keep_alive: bool,
         sticky: bool = False) -> LoadResult:
    """One locust run; an empty or short run is re-run once and fails the test if invalid again."""
    spec = LoadSpec(targets=targets, users=perf.users, spawn_rate=max(perf.users, 1), duration_s=perf.duration_s,
                    keep_alive=keep_alive, sticky=sticky, node=e.node, workers=perf.load_workers,
                    spread=perf.load_workers > 1)
    got = validity.measure(lambda: run_load(e.ns.api, e.ns.name, spec),
                           lambda r: validity.locust_problems(r, spec), f"locust run to {', '.join(targets)}")
    if got.discarded:
        runs.discarded.append(f"locust to {', '.join(targets)}: " + "; ".join(got.discarded))
    return got.result


def _measure(e: Echo, perf: PerfConfig, proxy: ProxyObserver, runs: Runs, conn: str) -> Pairs:
    if conn not in runs.pairs:
        pods = tuple(f"{ip}:{manifests.ECHO_HTTP_PORT}" for ip in e.pods.values())
        pairs = Pairs([], [], [])
        for i in range(perf.repeats):
            if i % 2 == 1:
                _service_run(e, perf, proxy, runs, conn, pairs)
            # Keep-alive baseline: each user stays on one pod IP, as a kept-alive Service
            # connection stays on its backend; new-connection baseline: round-robin per request.
            pairs.baseline.append(_run(e, perf, runs, pods, CONNS[conn], sticky=CONNS[conn]))
            if i % 2 == 0:
                _service_run(e, perf, proxy, runs, conn, pairs)
        runs.pairs[conn] = pairs
    return runs.pairs[conn]


def _service_run(e: Echo, perf: PerfConfig, proxy: ProxyObserver, runs: Runs, conn: str, pairs: Pairs) -> None:
    before = proxy.stats()
    pairs.service.append(_run(e, perf, runs, (f"{e.cluster_ip}:80",), CONNS[conn]))
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
        generator_bound=any(r.generator_bound for r in results), load_workers=perf.load_workers,
        rps_timeline=[[s.t, s.requests] for s in results[0].timeline],
        rps_method="steady state: mean requests per whole second, first and last second left out")
    return per


@pytest.mark.parametrize("conn", list(CONNS))
def test_baseline_pod_ips(echo: Echo, perf: PerfConfig, proxy: ProxyObserver, runs: Runs, metrics: dict[str, Any],
                          conn: str) -> None:
    """Scenario 1: the physical limit, no Service and no proxy rule on the path. (Its Service runs
    are interleaved with it and recorded by test_cluster_ip.)"""
    results = _measure(echo, perf, proxy, runs, conn).baseline
    _record(metrics, results, perf)
    for res in results:
        _consistent(res)
        assert res.failures == 0, res.failures_by_kind
        assert set(res.backends) == set(echo.pods), res.backends


@records(KEEPALIVE_RATIO, NEWCONN_RATIO, NEWCONN_P99)
@pytest.mark.parametrize("conn", list(CONNS))
def test_cluster_ip(echo: Echo, perf: PerfConfig, proxy: ProxyObserver, runs: Runs, metrics: dict[str, Any],
                    conn: str) -> None:
    """Scenarios 2 (keep-alive) and 3 (a new connection per request: the NAT/conntrack path),
    plus the proxy's CPU and memory during the runs (scenario 6, steady load)."""
    pairs = _measure(echo, perf, proxy, runs, conn)
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
                     "Service first in odd ones; same client node(s), backends, load; with --load-workers N the "
                     "locust workers are spread one per node for both runs)",
        cpu_millicores=cpu.mean and round(cpu.mean, 1), cpu_millicores_stats=cpu.as_metrics(),
        memory_mib=mem.mean and round(mem.mean, 1), memory_mib_stats=mem.as_metrics(),
        proxy_usage=usages, invalid_runs=list(runs.discarded),
        proxy_usage_method="kube-proxy containers on all nodes, crictl stats before/after each Service load run "
                           "(locust pod start-up included); CPU = delta cgroup usage / delta time, summed")
    for res in results:
        _consistent(res)
        assert res.failures == 0, res.failures_by_kind
        assert set(res.backends) <= set(echo.pods), res.backends


# --- The data path with the compiled instruments (wrk closed loop, vegeta open loop) -----------------

@dataclass
class One:
    """One backend on the second worker, reached from a generator pod on the first: through its
    ClusterIP and directly, so the two targets differ only by the proxy on the path."""

    client: datapath.Client
    service: str
    pod: str
    checker: str  # an echo probe pod on the client's node (for wait_serving)


@pytest.fixture(scope="module")
def one(namespace: Namespace) -> One:
    workers = namespace.workers
    placement = {"placement": {"nodes": [workers[-1]]}} if len(workers) > 1 else {}
    fx = namespace.fixture("one", {"replicas": 1, **placement})
    st = fx.status()
    ip = st["service"]["clusterIP"]
    pod_ip = st["endpoints"][0]["ip"]
    node = client_node(namespace)
    checker = namespace.probe_pod("warm-one", node)
    namespace.wait_serving(checker, f"http://{ip}/")
    client = datapath_client(namespace, "fastgen", node)
    return One(client, f"{ip}:80", f"{pod_ip}:{manifests.ECHO_HTTP_PORT}", checker)


# Open loop keeps sending while the path queues: a SYN dropped under a burst costs a 1-s retransmit
# and, rarely, the 3-s timeout (seen here on the pod-IP baseline: 1 of 5,300 at 1,767 new
# connections/s). Such rare failures are recorded as findings; more than 0.1 % fails the test.
OPEN_LOOP_MAX_ERROR_RATIO = 0.001


@records(DATAPATH_KEEPALIVE_RATIO, DATAPATH_NEWCONN_RATIO, DATAPATH_NEWCONN_KERNEL_CPU)
@pytest.mark.node_access
@pytest.mark.parametrize("conn", list(CONNS))
def test_data_path(one: One, perf: PerfConfig, metrics: dict[str, Any], conn: str) -> None:
    """Closed-loop capacity through the ClusterIP / the pod IP (wrk, ABBA pairs), then open-loop
    latency at 25/50/75 % of that capacity (vegeta), with the generator's and the kernel's CPU."""
    # The backend must be serving on both paths before a run (a previous test may have stressed it).
    for target in (one.service, one.pod):
        one.client.ns.wait_serving(one.checker, f"http://{target}/", timeout=120)
    pairs = datapath.closed_loop(one.client, one.service, one.pod, conn, perf.repeats, perf.fast_duration_s)
    figs = datapath.figures(pairs)
    capacity = figs["rps"]["mean"]
    open_rows = datapath.open_loop(one.client, one.service, one.pod, conn, capacity, perf.fast_duration_s)
    metrics.update(
        rps=capacity, rps_stats=figs["rps"], ratio_to_baseline=figs["ratio_to_baseline"]["mean"],
        ratio_to_baseline_stats=figs["ratio_to_baseline"], p99_ms=figs["p99_ms"]["mean"], p99_ms_stats=figs["p99_ms"],
        kernel_us_per_request=figs["kernel_us_per_request"]["mean"],
        kernel_us_per_request_stats=figs["kernel_us_per_request"], closed_loop=figs, open_loop=open_rows,
        invalid_runs=figs["discarded_runs"],
        method="wrk (Debian, 1 thread, 10 connections) from a pod on the first worker to one echo backend on the "
               "second, through its ClusterIP and by pod IP, ABBA-interleaved repeats; ratio per repeat; vegeta "
               "(open loop, free of coordinated omission) at 25/50/75 % of the ClusterIP's capacity; kernel CPU = "
               "the host's system+irq+softirq over the run / answered requests (all kind nodes share the kernel)")
    datapath.assert_steady(pairs)
    measured = [row for row in open_rows if "beyond_generator" not in row]
    assert measured, f"{conn}: vegeta could not keep even {open_rows[0]['rate']}/s: {open_rows[0]['beyond_generator']}"
    for row in measured:
        for label in ("service", "baseline"):
            r = row[label]
            failed = sum(r["errors"].values())
            assert failed <= OPEN_LOOP_MAX_ERROR_RATIO * r["requests"], (
                f"{conn}: vegeta at {row['rate']}/s to the {label}: {failed} of {r['requests']} requests failed: {r}")


@pytest.mark.node_access
def test_instrument_cross_check(echo: Echo, one: One, perf: PerfConfig, proxy: ProxyObserver, runs: Runs,
                                metrics: dict[str, Any]) -> None:
    """Both instruments on one target (the 5-backend ClusterIP, keep-alive, the same concurrency):
    locust's rate against wrk's shows how far locust is from the path's capacity. Recorded, and a
    generator heavier than the path it measures is flagged."""
    users = perf.users
    spec = FastSpec(target=f"{echo.cluster_ip}:80", tool="wrk", duration_s=perf.fast_duration_s, keep_alive=True,
                    connections=users)
    wrk = one.client.run(spec, "service", "wrk cross-check on the 5-backend ClusterIP")
    loc = _run(echo, perf, runs, (f"{echo.cluster_ip}:80",), True)
    problems = validity.locust_problems(loc, LoadSpec(targets=(f"{echo.cluster_ip}:80",), users=users,
                                                       duration_s=perf.duration_s))
    locust_rps = summary.steady_rps([s.requests for s in loc.timeline])
    worker_cpu = [w.mean for w in loc.workers]
    metrics.update(wrk=wrk.summary(), locust=loc.summary(), locust_rps=locust_rps,
                   wrk_rps=round(wrk.result.rps, 1),
                   wrk_over_locust=round(wrk.result.rps / locust_rps, 3) if locust_rps else None,
                   locust_worker_cpu_percent=worker_cpu, locust_invalid=problems,
                   wrk_generator_heavier_than_path=wrk.result.generator_heavier_than_path,
                   method="same ClusterIP, keep-alive, same concurrency (locust users = wrk connections), "
                          "same client node, runs back to back")
    assert not problems, f"the locust run of the cross-check is not a measurement: {problems}"
    assert not wrk.result.errors, wrk.result.summary()
