"""Scenarios 5 and 6: programming latency, first-packet latency and the proxy's own metrics and
resource use as the number of Services K grows (``--perf-services-sweep``).

K Services are plain ClusterIP Services over one tiny fixture (1 echo backend), created in bulk
with the API client (threads) and deleted with the namespace. At each K, repeated:

- **new Service**: an echo probe (``echo until``) on the client node polls a chosen, still unallocated ClusterIP
  (one GET per new connection, <= 40 ms connect timeout + 10 ms gap: resolution <= 50 ms); the
  Service is then created with that ``clusterIP``; latency = probe's first success - the harness's
  clock before the create call (pods share the host's clock). Includes the API server, the
  EndpointSlice controller and kube-proxy.
- **new endpoint**: a selector-less Service is created and polled until it refuses (programmed,
  no endpoints); then an EndpointSlice naming the backend's IP is created; latency as above.
- **first packet**: N TCP connects to an existing Service's ClusterIP, and to the backend's pod
  IP for reference; connect time = SYN to SYN-ACK through the NAT of a new flow. For kube-proxy
  iptables, whose KUBE-SERVICES chain is compared rule by rule and rewritten in a random order,
  the Service measured is the one in the middle of that chain (``_target``), not the fixture's.
- **kube-proxy's own metrics** (``sync_proxy_rules_duration_seconds``,
  ``network_programming_duration_seconds``) scraped on every node at :10249 before and after.
- **resource use** of the kube-proxy containers (crictl stats) over the bulk creation and over
  the measurements.

Every wait for the proxy grows with what it showed at this K (``proxylab/perf/deadlines.py``): at
30,000 Services one kube-proxy iptables sync took minutes on 2 cores.

Untranslated probe packets (before the proxy programmed a ClusterIP) meet the host's containment
guard and fail at once; they never leave the machine.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from operators.fixture import FIXTURE_LABEL
from proxylab import guard
from proxylab.constants import ECHO_HTTP_PORT, SERVICE_CIDR
from proxylab.modes import ProxyMode
from proxylab.nodes import NodeAccess
from proxylab.perf import dataplane, deadlines, interference, resources, summary
from proxylab.perf.profile import PerfConfig
from proxylab.results import MetricId, records
from proxylab.wait import wait_for
from suites.namespaces import Namespace, UntilPoll, in_background
from suites.terminal import uncaptured

from . import datapath
from .conftest import ProxyObserver, client_node, datapath_client

pytestmark = [pytest.mark.e2e, pytest.mark.node_access]  # the node containers' CPU, read on this host (perf/interference.py)

PROBE_TIMEOUT_MS = 40
PROBE_GAP_MS = 10
BULK_THREADS = 16
NO_REFUSAL_WAIT_S = 3.0
CONNECT_BATCHES = 5

# Stable ids of the figures the report's headline and "where the modes differ" compare
# (reports/headline.py), recorded in results.json.
NEW_SERVICE_LATENCY = MetricId("programming.new_service.latency", "programming_latency")
NEW_ENDPOINT_LATENCY = MetricId("programming.new_endpoint.latency", "programming_latency")
FIRST_PACKET_LATENCY = MetricId("programming.first_packet_latency", "first_packet_latency")
PROXY_CPU = MetricId("sweep.proxy_cpu_millicores", "cpu_millicores")
PROXY_MEMORY = MetricId("sweep.proxy_memory_mib", "memory_mib")
SCALE_FIGURES = tuple(MetricId(f"scale.{key}", key) for key in (
    "newconn_ratio_to_baseline", "newconn_ratio_to_smallest_k", "connect_p99_ms", "kernel_cpu_us_per_request",
    "newconn_rps", "keepalive_rps", "newconn_p99_ms", "sync_seconds"))
# Explicit ClusterIPs come from the start of the range, which the allocator keeps for them
# (dynamic allocation prefers the upper band); .1 is `kubernetes`, .10 is DNS.
_STATIC_IPS = (str(a) for a in itertools.islice(ipaddress.ip_network(SERVICE_CIDR).hosts(), 20, 250))


@dataclass
class Sweep:
    ns: Namespace
    selector: dict[str, str]
    backend_ip: str
    existing_ip: str
    path: datapath.Client
    mode: ProxyMode
    probes: dict[str, str]  # "service" / "baseline" -> echo probe pod on the client node (see _connects)
    nodes: NodeAccess  # commands on the nodes (proxylab/nodes/)
    created: int = 0
    at: dict[int, dict[str, Any]] = field(default_factory=dict)
    change_deadline_s: int = deadlines.CHANGE_MIN_S  # set per K from the bulk's settle time
    stopped: str = ""  # why the sweep stopped early ("" while it goes on)
    # the bulk's progress lines reach the terminal as they happen (suites/terminal.py)
    uncaptured: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext

    @property
    def client(self) -> str:
        """The echo pod the ClusterIP probes run in."""
        return self.probes["service"]

    @property
    def refuses(self) -> bool:
        """A Service without endpoints is refused (kube-proxy), rather than unreachable (Cilium's socket LB)."""
        return self.mode.uses_kube_proxy


def _service(name: str, selector: dict[str, str] | None, cluster_ip: str | None = None) -> client.V1Service:
    spec = client.V1ServiceSpec(ports=[client.V1ServicePort(name="http", port=80, target_port=ECHO_HTTP_PORT, protocol="TCP")],
                                selector=selector, cluster_ip=cluster_ip)
    return client.V1Service(metadata=client.V1ObjectMeta(name=name, labels={"proxylab.dev/perf": "sweep"}), spec=spec)


CREATE_RETRY_S = 5.0  # a busy API server (429/5xx, dropped connection) gets this long to take a create


def _create(core: client.CoreV1Api, ns: str, body: client.V1Service) -> client.V1Service:
    """Create a Service, retrying only transient failures (proxylab.wait.is_transient); any other
    answer, e.g. 422 for a ClusterIP already allocated, is raised at once."""
    created: list[client.V1Service] = []

    def attempt() -> tuple[bool, str]:
        created.append(core.create_namespaced_service(ns, body))
        return True, "created"

    wait_for(attempt, timeout=CREATE_RETRY_S, what=f"creating Service {body.metadata.name}", interval=0.5)
    return created[0]


def _bulk(sw: Sweep, upto: int) -> float:
    """Create Services ``bulk-<i>`` until ``upto`` exist (parallel API calls, a progress line every
    ~5 s); returns seconds taken. Services are created once and grown between steps."""
    core = sw.ns.core()
    t0 = time.monotonic()
    first = sw.created
    done = [0]
    last = [t0]
    lock = threading.Lock()

    def one(i: int) -> None:
        _create(core, sw.ns.name, _service(f"bulk-{i}", sw.selector))
        with lock:
            done[0] += 1
            if time.monotonic() - last[0] >= 5:
                last[0] = time.monotonic()
                rate = done[0] / (last[0] - t0)
                print(f"\n  sweep: {first + done[0]}/{upto} Services ({rate:.0f}/s)", flush=True)

    with sw.uncaptured(), ThreadPoolExecutor(BULK_THREADS) as pool:
        list(pool.map(one, range(sw.created, upto)))
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


def _until_changed(sw: Sweep, ip: str, want: str) -> dict[str, Any]:
    """Poll ``ip:80`` from the client until the answer is ``want`` ("ok", "refused"), for at most
    the change bound of this K."""
    return sw.ns.until(sw.client, f"{ip}:80", want, UntilPoll(sw.change_deadline_s, PROBE_TIMEOUT_MS, PROBE_GAP_MS))


def _latency(sw: Sweep, ip: str, change: Any) -> dict[str, Any]:
    """Poll ``ip:80`` from the client until it answers, make ``change()`` (returns the harness time
    just before it changed the cluster), and return the latency and the probe's resolution."""
    bg = in_background(lambda: _until_changed(sw, ip, "ok"))
    time.sleep(1.5)  # exec start-up; the probe's own start time is checked below
    t0 = float(change())
    res = bg.result(sw.change_deadline_s + 90)
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
        refused = _until_changed(sw, ip, "refused")
        if not refused["hit"]:  # not programmed yet: no valid start; test_programming_latency_new_endpoint fails
            return {"ip": ip, "latency_s": None, "valid": False, "reached": False,
                    "why": f"the Service without endpoints was not refused within {sw.change_deadline_s} s",
                    "attempts": refused["attempts"], "outcomes": refused["outcomes"]}
    else:
        # Socket-LB proxies answer EHOSTUNREACH, like the containment guard for an unprogrammed IP:
        # "programmed, no endpoints" cannot be told apart, so give it a fixed head start instead.
        time.sleep(NO_REFUSAL_WAIT_S)
    body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-1", "labels": {"kubernetes.io/service-name": name,
                                                         "endpointslice.kubernetes.io/managed-by": "proxylab.dev"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": ECHO_HTTP_PORT, "protocol": "TCP"}],
            "endpoints": [{"addresses": [sw.backend_ip], "conditions": {"ready": True}}]}
    disc = client.DiscoveryV1Api(sw.ns.api)

    def change() -> float:
        t0 = time.time()
        disc.create_namespaced_endpoint_slice(sw.ns.name, body)
        return t0
    return {"ip": ip, **_latency(sw, ip, change)}


def _connects(sw: Sweep, target: str, n: int, pod: str | None = None) -> dict[str, Any]:
    """``n`` TCP connects from ``pod`` (default: the client) to ``target``; pod-IP connects come from
    the baseline probe pod, so no 4-tuple is shared with the ClusterIP runs (see datapath.Client)."""
    res = sw.ns.probe(pod or sw.client, "connect", target, str(n), timeout=max(120, n / 50))
    ms = sorted(res["ms"])
    if not ms:
        return {"n": 0, "errors": res["errors"]}

    def pct(xs: list[float], q: float) -> float:
        xs = sorted(xs)
        return round(float(xs[min(len(xs) - 1, int(q * len(xs)))]), 4)
    # The connects in CONNECT_BATCHES consecutive batches: each batch's quantile is one repeat value,
    # so the figure has a spread (and a test between K values) like the repeated figures.
    raw = list(res["ms"])
    size = max(1, len(raw) // CONNECT_BATCHES)
    batches = [raw[i * size:(i + 1) * size] for i in range(CONNECT_BATCHES) if raw[i * size:(i + 1) * size]]
    return {"n": len(ms), "errors": res["errors"], "p50_ms": round(statistics.median(ms), 4), "p90_ms": pct(ms, 0.90),
            "p99_ms": pct(ms, 0.99), "mean_ms": round(statistics.fmean(ms), 4),
            "batches": {q: [pct(b, v) for b in batches] for q, v in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}}


@pytest.fixture(scope="module")
def sweep(namespace: Namespace, perf: PerfConfig, proxy: ProxyObserver, proxy_mode: ProxyMode,
          pytestconfig: pytest.Config) -> Sweep:
    """The sweep's state: one real Service with one backend on the second worker, the generator
    pod on the first; the steps (test_sweep_step[K]) grow the Services and measure."""
    limit, why = proxy_mode.sweep_limit()
    if limit is not None and perf.sweep[-1] > limit:
        raise pytest.UsageError(f"--perf-services-sweep up to {perf.sweep[-1]} exceeds what {proxy_mode} holds: "
                                f"{why}, i.e. {limit} Services; ask for at most {limit}")
    workers = namespace.workers
    placement = {"placement": {"nodes": [workers[-1]]}} if len(workers) > 1 else {}
    fx = namespace.fixture("tiny", {"replicas": 1, **placement})
    st = fx.status()
    path = datapath_client(namespace, "prog", client_node(namespace))
    probes = {role: namespace.probe_pod(f"prog-probe-{role}", client_node(namespace)) for role in ("service", "baseline")}
    return Sweep(namespace, {FIXTURE_LABEL: "tiny"}, st["endpoints"][0]["ip"], st["service"]["clusterIP"], path,
                 proxy_mode, probes, proxy.nodes,
                 uncaptured=lambda: uncaptured(pytestconfig))


def _step(sw: Sweep, k: int, perf: PerfConfig, proxy: ProxyObserver, entry: dict[str, Any]) -> None:
    """Grow to ``k`` Services, wait until the proxy programmed the last one, then measure into
    ``entry`` figure by figure (a failure keeps what was measured before it)."""
    stats0, scrape0 = proxy.stats(), proxy.scrape()
    t_create = time.monotonic()
    entry.update(services=k, bulk_seconds=round(_bulk(sw, k), 1))
    last_ip = _last_bulk_ip(sw)
    t_settle, settle_deadline = time.monotonic(), deadlines.settle_deadline_s(k)
    settle = sw.ns.until(sw.client, f"{last_ip}:80", "ok", UntilPoll(settle_deadline, 200, 50))
    assert settle["hit"], f"the last of {k} Services ({last_ip}) never answered within {settle_deadline} s: {settle}"
    settle_s = time.monotonic() - t_settle
    sw.change_deadline_s = deadlines.change_deadline_s(settle_s)
    entry.update(programmed_seconds=round(time.monotonic() - t_create, 1), settle_seconds=round(settle_s, 1),
                 change_deadline_seconds=sw.change_deadline_s,
                 programmed_method="first bulk create call -> the last created Service answers from the client "
                                   "pod (200 ms probe timeout + 50 ms gap)")
    entry["quiet_before_measuring"] = interference.wait_quiet(sw.path.sampler, datapath.QUIET_CORES)
    stats1, scrape1 = proxy.stats(), proxy.scrape()
    node = client_node(sw.ns) or sw.ns.cluster.nodes[0]
    entry.update(dataplane=sw.mode.dataplane_counts(node, sw.ns.api), dataplane_node=node)
    target = entry["target"] = _target(sw, node)
    entry["first_packet"] = _connects(sw, f"{target['ip']}:80", perf.first_packet_samples)
    entry["first_packet_pod_ip"] = _connects(sw, f"{sw.backend_ip}:{ECHO_HTTP_PORT}", perf.first_packet_samples,
                                             pod=sw.probes["baseline"])
    for conn in datapath.CONNS:
        pairs = datapath.closed_loop(sw.path, f"{target['ip']}:80", f"{sw.backend_ip}:{ECHO_HTTP_PORT}", conn,
                                     perf.repeats, perf.fast_duration_s)
        datapath.assert_steady(pairs)
        entry[f"data_path_{conn}"] = datapath.figures(pairs)
    if target["position"] is not None:  # did a rewrite of the chain move it while measuring?
        target["position_after"] = _position(sw.mode.match_order(node) or [], target["ip"])
    for part, measure in (("new_service", _new_service), ("new_endpoint", _new_endpoint)):
        done = entry[part] = []
        for r in range(perf.repeats):
            done.append(measure(sw, k, r))
    stats2, scrape2 = proxy.stats(), proxy.scrape()
    entry["node_memory_mib"] = sw.path.sampler.memory_mib()
    entry["proxy_metrics_primary"] = proxy.primary
    entry["proxy_metrics_bulk"] = proxy.deltas(scrape0, scrape1)
    entry["proxy_metrics_measuring"] = proxy.deltas(scrape1, scrape2)
    entry["proxy_usage_bulk"] = resources.totals(resources.usage(stats0, stats1))
    entry["proxy_usage_measuring"] = resources.totals(resources.usage(stats1, stats2))
    entry["proxy_usage_bulk_per_pod"] = [vars(u) for u in resources.usage(stats0, stats1)]


def _our_services(sw: Sweep) -> set[str]:
    """``"ip:80"`` of every Service in the sweep's namespace that selects the one backend."""
    return {f"{svc.spec.cluster_ip}:80" for svc in sw.ns.core().list_namespaced_service(sw.ns.name).items
            if svc.spec.selector == sw.selector}


def _position(order: list[str], ip: str) -> int | None:
    """1-based place of ``ip:80`` in the match order (None if absent)."""
    return order.index(f"{ip}:80") + 1 if f"{ip}:80" in order else None


def _target(sw: Sweep, node: str) -> dict[str, Any]:
    """The Service the data path is measured through at this K. Where the proxy compares a new
    connection against a list (kube-proxy iptables' KUBE-SERVICES chain), the one of ours in the
    middle of that list, so the figure is that of the average Service: kube-proxy rewrites the chain
    in Go map order, and the fixture's own Service lands anywhere from first to last (measured: the
    same K gave 1.11x and 1.60x the pod-IP rate in two runs). Elsewhere (hash lookups) the
    fixture's Service. All of them select the same single backend."""
    order = sw.mode.match_order(node)
    if order is None:
        return {"ip": sw.existing_ip, "position": None, "chain_rules": None,
                "chosen": "the fixture's Service (the proxy's lookup does not depend on a Service's place)"}
    at = dataplane.middle_of(order, _our_services(sw))
    assert at is not None, f"none of the sweep's Services is in the match order on {node} ({len(order)} rules)"
    return {"ip": order[at].rpartition(":")[0], "position": at + 1, "chain_rules": len(order),
            "fraction": round((at + 1) / len(order), 3),
            "chosen": "the sweep's Service nearest the middle of the rules a first packet is compared against"}


def test_sweep_step(sweep: Sweep, sweep_k: int, perf: PerfConfig, proxy: ProxyObserver,
                    metrics: dict[str, Any]) -> None:
    """One step of the sweep (K Services): recorded as soon as measured, so an interrupted sweep
    keeps every step before it; a failed step stops the sweep (the larger K are skipped) and its
    test record keeps the figures measured before the failure (``"incomplete": true``), which the
    curves over K leave out."""
    if sweep.stopped:
        pytest.skip(sweep.stopped)
    entry: dict[str, Any] = {}
    try:
        _step(sweep, sweep_k, perf, proxy, entry)
    except BaseException:
        sweep.stopped = f"the sweep stopped at K={sweep_k} (that step failed)"
        metrics.update(entry, incomplete=True)
        raise
    sweep.at[sweep_k] = entry
    metrics.update(entry)


def _last_bulk_ip(sw: Sweep) -> str:
    svc = sw.ns.core().read_namespaced_service(f"bulk-{sw.created - 1}", sw.ns.name)
    return str(svc.spec.cluster_ip)


def _require(sw: Sweep) -> None:
    if not sw.at:
        pytest.skip(f"no sweep step was measured ({sw.stopped or 'none ran'})")


def _curve(sw: Sweep, part: str) -> tuple[dict[str, float | None], dict[str, Any]]:
    curve, stats = {}, {}
    for k, e in sw.at.items():
        s = summary.summarize([m["latency_s"] for m in e[part]])
        curve[str(k)] = None if s.mean is None else round(s.mean, 4)
        stats[str(k)] = s.as_metrics()
    return curve, stats


def _record_change_latency(sweep: Sweep, metrics: dict[str, Any], change: str, what: str, method: str) -> None:
    """One change's programming latency per K (``change``: "new_service" or "new_endpoint") into
    ``metrics``; every measurement must be valid and have been answered."""
    curve, stats = _curve(sweep, change)
    metrics.update(programming_latency={k: v for k, v in curve.items() if v is not None}, programming_latency_stats=stats,
                   samples={str(k): e[change] for k, e in sweep.at.items()}, method=method)
    for k, e in sweep.at.items():
        for m in e[change]:
            assert m["valid"] and m["reached"], f"K={k}: {what} at {m['ip']} never answered: {m}"


@records(NEW_SERVICE_LATENCY)
def test_programming_latency_new_service(sweep: Sweep, metrics: dict[str, Any]) -> None:
    _require(sweep)
    _record_change_latency(sweep, metrics, "new_service", "new Service",
                           "Service create (explicit clusterIP) -> first successful GET from the client pod; "
                           "probe resolution <= 50 ms; mean over repeats, 95% t-interval")


@records(NEW_ENDPOINT_LATENCY)
def test_programming_latency_new_endpoint(sweep: Sweep, metrics: dict[str, Any]) -> None:
    _require(sweep)
    _record_change_latency(sweep, metrics, "new_endpoint", "endpoint",
                           "EndpointSlice create for a programmed Service without endpoints -> first successful GET")


@records(FIRST_PACKET_LATENCY)
def test_first_packet_latency(sweep: Sweep, metrics: dict[str, Any]) -> None:
    _require(sweep)
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
    _require(sweep)
    metrics.update(histograms={k: list(v) for k, v in proxy.histograms.items()},
                   bulk={str(k): e["proxy_metrics_bulk"] for k, e in sweep.at.items()},
                   measuring={str(k): e["proxy_metrics_measuring"] for k, e in sweep.at.items()},
                   bulk_seconds={str(k): e["bulk_seconds"] for k, e in sweep.at.items()})
    top = sweep.at[max(sweep.at)]["proxy_metrics_measuring"]
    for key in proxy.histograms:  # headline scalars (trended by the report): mean at the largest K
        metrics[f"{key}_seconds"] = (top.get(key) or {}).get("mean_s")
    for k, e in sweep.at.items():
        sync = e["proxy_metrics_bulk"][proxy.primary]
        assert sync and sync["count"] > 0, (f"K={k}: the proxy reported no {proxy.histograms[proxy.primary][0]} "
                                            "observation while Services were created")


@records(PROXY_CPU, PROXY_MEMORY)
def test_proxy_resources_during_sweep(sweep: Sweep, metrics: dict[str, Any]) -> None:
    _require(sweep)
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


def _curve_stats(sw: Sweep, get: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """{K: mean}, {K: stats} of a figure's repeat values at each K (``get(entry) -> values``)."""
    curve, stats = {}, {}
    for k, e in sorted(sw.at.items()):
        st = datapath.stats(get(e))
        stats[str(k)] = st
        if st["mean"] is not None:
            curve[str(k)] = st["mean"]
    return curve, stats


def _put_curve(metrics: dict[str, Any], sweep: Sweep, name: str,
               values: Callable[[dict[str, Any]], list[float | None]]) -> None:
    """``name``: the mean at each K of ``values(entry)``; ``name_stats``: its n, CV and interval."""
    metrics[name], metrics[f"{name}_stats"] = _curve_stats(sweep, values)


def _record_data_path(sweep: Sweep, metrics: dict[str, Any]) -> None:
    """Throughput (each connection kind), its ratios, p99 and the kernel's CPU per request, per K."""
    kmin = min(sweep.at)
    for conn in datapath.CONNS:
        def rps(e: dict[str, Any], conn: str = conn) -> list[float | None]:
            return list(e[f"data_path_{conn}"]["rps"]["values"])

        def of(figure: str, conn: str = conn) -> Callable[[dict[str, Any]], list[float | None]]:
            return lambda e: list(e[f"data_path_{conn}"][figure]["values"])
        first = [v for v in rps(sweep.at[kmin]) if v is not None]
        base_mean = statistics.fmean(first) if first else None

        def to_smallest_k(e: dict[str, Any], f: Callable[..., list[float | None]] = rps,
                          b: float | None = base_mean) -> list[float | None]:
            return [v / b if v and b else None for v in f(e)]
        _put_curve(metrics, sweep, f"{conn}_rps", rps)
        _put_curve(metrics, sweep, f"{conn}_ratio_to_baseline", of("ratio_to_baseline"))
        _put_curve(metrics, sweep, f"{conn}_ratio_to_smallest_k", to_smallest_k)
        # The pod-IP rate at each K: in iptables mode a new connection to a pod IP walks all of
        # KUBE-SERVICES too (on the client's node and the backend's), so it falls with K as well.
        _put_curve(metrics, sweep, f"{conn}_pod_ip_rps", of("baseline_rps"))
        _put_curve(metrics, sweep, f"{conn}_p99_ms", of("p99_ms"))
    _put_curve(metrics, sweep, "kernel_cpu_us_per_request",
               lambda e: list(e["data_path_newconn"]["kernel_us_per_request"]["values"]))
    metrics["invalid_runs"] = [d for e in sweep.at.values() for conn in datapath.CONNS
                               for d in e[f"data_path_{conn}"]["discarded_runs"]]


def _record_first_packet(sweep: Sweep, metrics: dict[str, Any]) -> None:
    """TCP connect quantiles per K, through the ClusterIP (with batch stats) and by pod IP."""
    for q in ("p50", "p90", "p99"):
        metrics[f"connect_{q}_ms"] = {str(k): e["first_packet"].get(f"{q}_ms") for k, e in sweep.at.items()}
        metrics[f"connect_{q}_ms_stats"] = {str(k): datapath.stats(e["first_packet"].get("batches", {}).get(q, []))
                                            for k, e in sweep.at.items()}
        metrics[f"connect_pod_ip_{q}_ms"] = {str(k): e["first_packet_pod_ip"].get(f"{q}_ms") for k, e in sweep.at.items()}


def _record_programming(sweep: Sweep, metrics: dict[str, Any]) -> None:
    """What the proxy programmed per K, where the measured Service sat, the proxy's sync time, and how
    long creating and programming the K Services took."""
    metrics["measured_service"] = {str(k): e["target"] for k, e in sweep.at.items()}
    if positions := {str(k): e["target"]["position"] for k, e in sweep.at.items() if e["target"]["position"]}:
        metrics["service_rule_position"] = positions
    metrics["dataplane"] = {str(k): e["dataplane"] for k, e in sweep.at.items()}
    metrics["dataplane_entries"] = {str(k): dataplane.main_count(e["dataplane"]) for k, e in sweep.at.items()}
    # kube-proxy's rule sync (one whole sync) and Cilium's LB reconciler (one map operation) measure
    # different things: only the former is "sync_seconds", which the report compares across modes.
    primary = next(iter(sweep.at.values()))["proxy_metrics_primary"]
    sync: dict[str, float | None] = {str(k): (e["proxy_metrics_measuring"].get(primary) or {}).get("mean_s")
                                     for k, e in sweep.at.items()}
    metrics["sync_seconds" if primary == "sync_proxy_rules" else f"{primary}_seconds"] = sync
    metrics["sync_metric"] = primary
    metrics["programmed_seconds"] = {str(k): e["programmed_seconds"] for k, e in sweep.at.items()}
    metrics["bulk_seconds"] = {str(k): e["bulk_seconds"] for k, e in sweep.at.items()}


@records(*SCALE_FIGURES)
def test_data_path_at_scale(sweep: Sweep, metrics: dict[str, Any]) -> None:
    """The curves that decide between modes: new-connection and keep-alive capacity, first-packet
    latency and the kernel's CPU per request at each K, each against the smallest K and against
    the pod-IP baseline measured at the same moment; plus what the proxy programmed."""
    _require(sweep)
    _record_data_path(sweep, metrics)
    _record_first_packet(sweep, metrics)
    _record_programming(sweep, metrics)
    metrics["method"] = ("at each K: wrk closed loop (1 thread, 10 connections) to one backend through its ClusterIP "
                         "and by pod IP, ABBA repeats; ratio_to_smallest_k = each repeat / the mean at the smallest "
                         "K; connect = N sequential TCP connects (SYN to SYN-ACK) from the same pod, quantiles over all N, the "
                         "_stats over 5 consecutive batches (one quantile per batch); kernel CPU = "
                         "host system+irq+softirq / answered request (new connection); dataplane counted on the "
                         "client's node; where the proxy compares a first packet against a list of Services "
                         "(service_rule_position), the Service measured is the sweep's one nearest the list's middle")
    for k, e in sweep.at.items():
        assert dataplane.main_count(e["dataplane"]) > 0, f"K={k}: the proxy's dataplane on {e['dataplane_node']} is empty"


def _unused_service_ip(sw: Sweep) -> str:
    used = {str(s.spec.cluster_ip) for s in sw.ns.core().list_service_for_all_namespaces().items}
    for ip in ipaddress.ip_network(SERVICE_CIDR).hosts():
        if int(ip) % 251 == 7 and str(ip) not in used:  # spread away from the allocator's dense start
            return str(ip)
    raise AssertionError("no unused address in the service CIDR")


def test_containment_holds_at_largest_k(sweep: Sweep, metrics: dict[str, Any]) -> None:
    """With every Service the sweep created in the cluster (``services``: more than the largest
    measured K when a later step failed after creating its Services), an unallocated ClusterIP
    still never leaves the host: the connection fails fast and no packet for it crosses the uplink."""
    _require(sweep)
    target = _unused_service_ip(sweep)
    node = client_node(sweep.ns) or sweep.ns.cluster.nodes[0]
    iface = guard.default_interface()
    with guard.PacketWatch(iface, target) as uplink:
        t0 = time.monotonic()
        res = sweep.nodes.call(node, ["curl", "-sS", "--max-time", "5", f"http://{target}:80/"])
        seconds = time.monotonic() - t0
    metrics.update(services=sweep.created, largest_measured_k=max(sweep.at), target=target, node=node, seconds=round(seconds, 3),
                   packets_on_uplink=uplink.seen, interface=iface)
    assert res.returncode != 0, f"a connection to unallocated {target} succeeded with {sweep.created} Services: {res.stdout}"
    assert uplink.seen == 0, f"{uplink.seen} packets to {target} left the host on {iface}"
