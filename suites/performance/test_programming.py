"""Scenarios 5 and 6: programming latency, first-packet latency and the proxy's own metrics and
resource use as the number of Services K grows (``--perf-services-sweep``).

K Services are plain ClusterIP Services over one tiny fixture (1 echo backend), created in bulk
with the API client (threads) and deleted with the namespace. At each K, repeated:

- **new Service**: a python probe on the client node polls a chosen, still unallocated ClusterIP
  (one GET per new connection, <= 40 ms connect timeout + 10 ms gap: resolution <= 50 ms); the
  Service is then created with that ``clusterIP``; latency = probe's first success - the harness's
  clock before the create call (pods share the host's clock). Includes the API server, the
  EndpointSlice controller and kube-proxy.
- **new endpoint**: a selector-less Service is created and polled until it refuses (programmed,
  no endpoints); then an EndpointSlice naming the backend's IP is created; latency as above.
- **first packet**: N TCP connects to an existing Service's ClusterIP, and to the backend's pod
  IP for reference; connect time = SYN to SYN-ACK through the NAT of a new flow.
- **kube-proxy's own metrics** (``sync_proxy_rules_duration_seconds``,
  ``network_programming_duration_seconds``) scraped on every node at :10249 before and after.
- **resource use** of the kube-proxy containers (crictl stats) over the bulk creation and over
  the measurements.

Untranslated probe packets (before the proxy programmed a ClusterIP) meet the host's containment
guard and fail at once; they never leave the machine.
"""

from __future__ import annotations

import ipaddress
import itertools
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from operators.fixture import FIXTURE_LABEL
from proxylab.guard import SERVICE_CIDR
from proxylab.perf import promtext, resources, summary
from proxylab.perf.profile import PerfConfig
from suites.conformance.conftest import Namespace

from .conftest import ProxyObserver, client_node, in_background, python_probe_pod, run_probe

pytestmark = pytest.mark.e2e

PROBE_TIMEOUT_MS = "40"
PROBE_GAP_MS = "10"
PROBE_DEADLINE_S = 120
HISTOGRAMS = {"sync_proxy_rules": "kubeproxy_sync_proxy_rules_duration_seconds",
              "network_programming": "kubeproxy_network_programming_duration_seconds"}
BULK_THREADS = 8
NO_REFUSAL_WAIT_S = 3.0
# Explicit ClusterIPs come from the start of the range, which the allocator keeps for them
# (dynamic allocation prefers the upper band); .1 is `kubernetes`, .10 is DNS.
_STATIC_IPS = (str(a) for a in itertools.islice(ipaddress.ip_network(SERVICE_CIDR).hosts(), 20, 250))


@dataclass
class Sweep:
    ns: Namespace
    client: str
    selector: dict[str, str]
    backend_ip: str
    existing_ip: str
    refuses: bool  # a Service without endpoints is refused (kube-proxy), rather than unreachable
    created: int = 0
    at: dict[int, dict[str, Any]] = field(default_factory=dict)


def _service(name: str, selector: dict[str, str] | None, cluster_ip: str | None = None) -> client.V1Service:
    spec = client.V1ServiceSpec(ports=[client.V1ServicePort(name="http", port=80, target_port=8080, protocol="TCP")],
                                selector=selector, cluster_ip=cluster_ip)
    return client.V1Service(metadata=client.V1ObjectMeta(name=name, labels={"proxylab.dev/perf": "sweep"}), spec=spec)


def _create(core: client.CoreV1Api, ns: str, body: client.V1Service, attempts: int = 5) -> client.V1Service:
    for i in range(attempts):
        try:
            return core.create_namespaced_service(ns, body)
        except client.ApiException as exc:
            if exc.status not in (429, 500, 503, 504) or i == attempts - 1:
                raise
            time.sleep(0.5 * (i + 1))
    raise AssertionError("unreachable")


def _bulk(sw: Sweep, upto: int) -> float:
    """Create Services ``bulk-<i>`` until ``upto`` exist; returns seconds taken."""
    core = sw.ns.core()
    t0 = time.monotonic()
    with ThreadPoolExecutor(BULK_THREADS) as pool:
        list(pool.map(lambda i: _create(core, sw.ns.name, _service(f"bulk-{i}", sw.selector)),
                      range(sw.created, upto)))
    sw.created = upto
    return time.monotonic() - t0


def _create_with_static_ip(sw: Sweep, name: str, selector: dict[str, str] | None) -> tuple[str, float]:
    """Create a Service on the next free static ClusterIP; returns (ip, harness time before the create call)."""
    core = sw.ns.core()
    for ip in _STATIC_IPS:
        t0 = time.time()
        try:
            _create(core, sw.ns.name, _service(name, selector, ip))
            return ip, t0
        except client.ApiException as exc:
            if exc.status == 422 and "allocated" in str(exc.body):
                continue
            raise
    raise AssertionError("no static ClusterIP left")


def _latency(sw: Sweep, ip: str, change: Any) -> dict[str, Any]:
    """Poll ``ip:80`` from the client until it answers, make ``change()`` (returns the harness time
    just before it changed the cluster), and return the latency and the probe's resolution."""
    bg = in_background(lambda: run_probe(sw.ns, sw.client, "until", f"{ip}:80", "ok", str(PROBE_DEADLINE_S),
                                         PROBE_TIMEOUT_MS, PROBE_GAP_MS, timeout=PROBE_DEADLINE_S + 60))
    time.sleep(1.5)  # exec start-up; the probe's own start time is checked below
    t0 = float(change())
    res = bg.result(PROBE_DEADLINE_S + 90)
    valid = res["started"] < t0
    hit = res.get("hit")
    return {"latency_s": round(hit - t0, 4) if hit and valid else None, "valid": valid,
            "resolution_ms": round((hit - res["prev"]) * 1000, 1) if hit and res.get("prev") else None,
            "attempts": res["attempts"], "outcomes": res["outcomes"], "reached": bool(hit)}


def _new_service(sw: Sweep, k: int, r: int) -> dict[str, Any]:
    # The IP is only known once allocated, so the probe targets the next free static IP and the
    # create call uses it; if that IP was taken meanwhile, the probe is simply repeated.
    core = sw.ns.core()
    for _ in range(3):
        ip = next(_STATIC_IPS)

        def change(ip: str = ip) -> float:
            t0 = time.time()
            _create(core, sw.ns.name, _service(f"new-{k}-{r}", sw.selector, ip))
            return t0
        try:
            return {"ip": ip, **_latency(sw, ip, change)}
        except client.ApiException as exc:
            if exc.status != 422:
                raise
    raise AssertionError("could not create a Service on a static ClusterIP three times")


def _new_endpoint(sw: Sweep, k: int, r: int) -> dict[str, Any]:
    name = f"ep-{k}-{r}"
    ip, _ = _create_with_static_ip(sw, name, None)
    if sw.refuses:
        refused = run_probe(sw.ns, sw.client, "until", f"{ip}:80", "refused", "60", PROBE_TIMEOUT_MS, PROBE_GAP_MS)
        assert refused["hit"], f"a Service without endpoints at {ip} was never refused: {refused}"
    else:
        # Socket-LB proxies answer EHOSTUNREACH, like the containment guard for an unprogrammed IP:
        # "programmed, no endpoints" cannot be told apart, so give it a fixed head start instead.
        time.sleep(NO_REFUSAL_WAIT_S)
    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-1", "labels": {"kubernetes.io/service-name": name,
                                                         "endpointslice.kubernetes.io/managed-by": "proxylab.dev"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [sw.backend_ip], "conditions": {"ready": True}}]}
    disc = client.DiscoveryV1Api(sw.ns.api)

    def change() -> float:
        t0 = time.time()
        disc.create_namespaced_endpoint_slice(sw.ns.name, body)
        return t0
    return {"ip": ip, **_latency(sw, ip, change)}


def _connects(sw: Sweep, target: str, n: int) -> dict[str, Any]:
    res = run_probe(sw.ns, sw.client, "connect", target, str(n))
    ms = sorted(res["ms"])
    if not ms:
        return {"n": 0, "errors": res["errors"]}
    return {"n": len(ms), "errors": res["errors"], "p50_ms": round(statistics.median(ms), 4),
            "p99_ms": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 4), "mean_ms": round(statistics.fmean(ms), 4)}


@pytest.fixture(scope="module")
def sweep(namespace: Namespace, perf: PerfConfig, proxy: ProxyObserver) -> Sweep:
    """Runs the whole sweep once; the tests below assert on and record its parts."""
    fx = namespace.fixture("tiny", {"replicas": 1})
    st = fx.status()
    sw = Sweep(namespace, python_probe_pod(namespace, "prog-client", client_node(namespace)),
               {FIXTURE_LABEL: "tiny"}, st["endpoints"][0]["ip"], st["service"]["clusterIP"], proxy.kube_proxy)
    for k in perf.sweep:
        stats0, scrape0 = proxy.stats(), proxy.scrape()
        bulk_s = _bulk(sw, k)
        settle = run_probe(namespace, sw.client, "until", f"{_last_bulk_ip(sw)}:80", "ok", "180", "200", "50",
                           timeout=240)
        assert settle["hit"], f"the last of {k} Services never answered: {settle}"
        time.sleep(2)
        stats1, scrape1 = proxy.stats(), proxy.scrape()
        entry: dict[str, Any] = {"bulk_seconds": round(bulk_s, 1), "services": k}
        entry["first_packet"] = _connects(sw, f"{sw.existing_ip}:80", perf.first_packet_samples)
        entry["first_packet_pod_ip"] = _connects(sw, f"{sw.backend_ip}:8080", perf.first_packet_samples)
        entry["new_service"] = [_new_service(sw, k, r) for r in range(perf.repeats)]
        entry["new_endpoint"] = [_new_endpoint(sw, k, r) for r in range(perf.repeats)]
        stats2, scrape2 = proxy.stats(), proxy.scrape()
        entry["proxy_metrics_bulk"] = {key: (h.summary() if (h := promtext.delta_over_nodes(scrape0, scrape1, name))
                                             else None) for key, name in HISTOGRAMS.items()}
        entry["proxy_metrics_measuring"] = {key: (h.summary() if (h := promtext.delta_over_nodes(scrape1, scrape2, name))
                                                  else None) for key, name in HISTOGRAMS.items()}
        entry["proxy_usage_bulk"] = resources.totals(resources.usage(stats0, stats1))
        entry["proxy_usage_measuring"] = resources.totals(resources.usage(stats1, stats2))
        entry["proxy_usage_bulk_per_pod"] = [vars(u) for u in resources.usage(stats0, stats1)]
        sw.at[k] = entry
    return sw


def _last_bulk_ip(sw: Sweep) -> str:
    svc = sw.ns.core().read_namespaced_service(f"bulk-{sw.created - 1}", sw.ns.name)
    return str(svc.spec.cluster_ip)


def _curve(sw: Sweep, part: str) -> tuple[dict[str, float | None], dict[str, Any]]:
    curve, stats = {}, {}
    for k, e in sw.at.items():
        s = summary.summarize([m["latency_s"] for m in e[part]])
        curve[str(k)] = None if s.mean is None else round(s.mean, 4)
        stats[str(k)] = s.as_metrics()
    return curve, stats


def test_programming_latency_new_service(sweep: Sweep, metrics: dict[str, Any]) -> None:
    curve, stats = _curve(sweep, "new_service")
    metrics.update(programming_latency={k: v for k, v in curve.items() if v is not None}, programming_latency_stats=stats,
                   samples={str(k): e["new_service"] for k, e in sweep.at.items()},
                   method="Service create (explicit clusterIP) -> first successful GET from the client pod; "
                          "probe resolution <= 50 ms; mean over repeats, 95% t-interval")
    for k, e in sweep.at.items():
        for m in e["new_service"]:
            assert m["valid"] and m["reached"], f"K={k}: new Service at {m['ip']} never answered: {m}"


def test_programming_latency_new_endpoint(sweep: Sweep, metrics: dict[str, Any]) -> None:
    curve, stats = _curve(sweep, "new_endpoint")
    metrics.update(programming_latency={k: v for k, v in curve.items() if v is not None}, programming_latency_stats=stats,
                   samples={str(k): e["new_endpoint"] for k, e in sweep.at.items()},
                   method="EndpointSlice create for a programmed Service without endpoints -> first successful GET")
    for k, e in sweep.at.items():
        for m in e["new_endpoint"]:
            assert m["valid"] and m["reached"], f"K={k}: endpoint at {m['ip']} never answered: {m}"


def test_first_packet_latency(sweep: Sweep, metrics: dict[str, Any]) -> None:
    metrics.update(
        first_packet_latency={str(k): e["first_packet"]["p50_ms"] / 1000 for k, e in sweep.at.items()
                              if e["first_packet"].get("p50_ms") is not None},
        first_packet={str(k): e["first_packet"] for k, e in sweep.at.items()},
        first_packet_pod_ip={str(k): e["first_packet_pod_ip"] for k, e in sweep.at.items()},
        method="median TCP connect time (SYN to SYN-ACK, new flow) to an existing ClusterIP, in seconds; "
               "the pod-IP figures are the same connects without a Service")
    for k, e in sweep.at.items():
        assert not e["first_packet"]["errors"], f"K={k}: connects failed: {e['first_packet']['errors']}"


def test_proxy_sync_metrics(sweep: Sweep, proxy: ProxyObserver, metrics: dict[str, Any]) -> None:
    if not proxy.kube_proxy:
        pytest.skip("no kube-proxy in this mode; the eBPF agent's own metrics are not scraped yet")
    metrics.update(bulk={str(k): e["proxy_metrics_bulk"] for k, e in sweep.at.items()},
                   measuring={str(k): e["proxy_metrics_measuring"] for k, e in sweep.at.items()},
                   bulk_seconds={str(k): e["bulk_seconds"] for k, e in sweep.at.items()})
    top = sweep.at[max(sweep.at)]["proxy_metrics_measuring"]
    for key in HISTOGRAMS:  # headline scalars (trended by the report): mean at the largest K
        metrics[f"{key}_seconds"] = (top.get(key) or {}).get("mean_s")
    for k, e in sweep.at.items():
        sync = e["proxy_metrics_bulk"]["sync_proxy_rules"]
        assert sync and sync["count"] > 0, f"K={k}: kube-proxy reported no rule sync while Services were created"


def test_proxy_resources_during_sweep(sweep: Sweep, metrics: dict[str, Any]) -> None:
    if not any(e["proxy_usage_bulk_per_pod"] for e in sweep.at.values()):
        pytest.skip("no proxy container found by crictl on the nodes (nothing to measure)")
    last = sweep.at[max(sweep.at)]
    metrics.update(cpu_millicores=last["proxy_usage_bulk"]["cpu_millicores"],
                   memory_mib=last["proxy_usage_measuring"]["memory_mib"],
                   bulk={str(k): e["proxy_usage_bulk"] for k, e in sweep.at.items()},
                   measuring={str(k): e["proxy_usage_measuring"] for k, e in sweep.at.items()},
                   per_pod={str(k): e["proxy_usage_bulk_per_pod"] for k, e in sweep.at.items()},
                   method="kube-proxy containers on all nodes (crictl stats): CPU averaged over the bulk creation "
                          "of the largest K, memory = summed working sets after the measurements")
    for k, e in sweep.at.items():
        assert e["proxy_usage_measuring"]["memory_mib"] > 0, f"K={k}: no kube-proxy memory sample"
