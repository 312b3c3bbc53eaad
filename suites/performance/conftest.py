"""Fixtures of the performance suite: sizes (profiles + options), load-generator pods, and
samplers of the proxy's own metrics and resource use on every node. Probes (until, connect,
series) run the echo binary in echo pods, as in the conformance suite (``Namespace.probe_pod``,
``Namespace.probe``).

Options (all sizes; a profile gives defaults, each option overrides one field):
``--perf-profile {default,short,nightly}``, ``--perf-repeats``, ``--perf-duration``,
``--perf-users``, ``--perf-services-sweep 100,1000,3000``, ``--perf-failover-window``,
``--perf-failover-interval``, ``--perf-first-packet-samples``, ``--perf-fast-duration``.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from loadgen import fastgen
from proxylab import kube
from proxylab.cluster import ClusterInfo
from proxylab.constants import POD_READY_TIMEOUT_S
from proxylab.images.catalog import cluster_catalog
from proxylab.manifests import RESTRICTED_CONTAINER_SECURITY
from proxylab.modes import ProxyMode
from proxylab.nodes import NodeAccess
from proxylab.perf import interference, memory, profile, promtext, resources
from proxylab.wait import wait_for
from suites.namespaces import Namespace

from . import datapath


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("proxylab performance")
    g.addoption("--perf-profile", default="default", choices=sorted(profile.PROFILES),
                help="sizes of the performance suite (default fits a 2-core machine; short is for CI)")
    g.addoption("--perf-repeats", type=int, default=None, help="repeats of every scenario")
    g.addoption("--perf-duration", type=int, default=None, help="seconds of each load run")
    g.addoption("--perf-users", type=int, default=None, help="locust users of each load run")
    g.addoption("--perf-services-sweep", default=None, metavar="K1,K2",
                help="numbers of Services for the programming-latency sweep (e.g. 100,1000,3000,10000)")
    g.addoption("--perf-failover-window", type=float, default=None, help="seconds observed after each fault")
    g.addoption("--perf-failover-interval", type=int, default=None,
                help="ms between the failover probe's requests (one new connection each)")
    g.addoption("--perf-fast-duration", type=int, default=None, help="seconds of each wrk/vegeta run")
    g.addoption("--perf-first-packet-samples", type=int, default=None, help="connects per K for first-packet latency")
    g.addoption("--load-workers", type=int, default=None, metavar="N",
                help="locust workers of each throughput run, one per node (pod anti-affinity), the master "
                     "adding up their reports; needs N schedulable worker nodes (default 1: one worker on the "
                     "client's node)")


@pytest.fixture(scope="session")
def perf(pytestconfig: pytest.Config) -> profile.PerfConfig:
    opt = pytestconfig.getoption
    try:
        return profile.resolve(opt("--perf-profile"), {
            "repeats": opt("--perf-repeats"), "duration_s": opt("--perf-duration"), "users": opt("--perf-users"),
            "sweep": opt("--perf-services-sweep"), "failover_window_s": opt("--perf-failover-window"),
            "failover_interval_ms": opt("--perf-failover-interval"),
            "first_packet_samples": opt("--perf-first-packet-samples"),
            "fast_duration_s": opt("--perf-fast-duration"), "load_workers": opt("--load-workers")})
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``sweep_k``: one test per number of Services of the profile's sweep (in increasing order)."""
    if "sweep_k" in metafunc.fixturenames:
        opt = metafunc.config.getoption
        try:
            sizes = profile.resolve(opt("--perf-profile"), {"sweep": opt("--perf-services-sweep")}).sweep
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        # The kind nodes share this host's memory: refused before any cluster exists.
        why = memory.refusal(max(sizes), memory.available_mib())
        if why:
            raise pytest.UsageError(why)
        metafunc.parametrize("sweep_k", sizes, ids=[f"K{k}" for k in sizes])


def generator_pod(ns: Namespace, name: str, node: str | None) -> str:
    """An idle pod of the load-generator image (wrk, vegeta) to run the compiled generators
    (:mod:`loadgen.fastgen`) in."""
    return generator_pods(ns, [name], node)[0]


def generator_pods(ns: Namespace, names: list[str], node: str | None) -> list[str]:
    """Generator pods named ``names`` on ``node``: all created first, then waited for."""
    image = cluster_catalog().locust
    new = [name for name in names if name not in ns.probes]
    for name in new:
        ns.apply(fastgen.generator_pod(name, image, node, RESTRICTED_CONTAINER_SECURITY))
    for name in new:
        wait_for(lambda n=name: kube.pod_ready(ns.api, ns.name, f"probe-name={n}", 1),  # type: ignore[misc]
                 timeout=POD_READY_TIMEOUT_S, what=f"generator pod {name}")
        ns.probes.add(name)
    return names


def datapath_client(ns: Namespace, prefix: str, node: str | None) -> datapath.Client:
    """The compiled generators' client: a pool of generator pods per role (``<prefix>-service-i``,
    ``<prefix>-baseline-i``) on ``node``, and the host-side sampler of the cluster's nodes."""
    pods = {role: generator_pods(ns, datapath.pool_names(f"{prefix}-{role}"), node) for role in ("service", "baseline")}
    return datapath.Client(ns, pods, interference.Sampler(list(ns.cluster.nodes)))


@dataclass
class ProxyObserver:
    """The proxy's own view on every node: its metrics endpoint (the mode's ``observer()``: e.g.
    kube-proxy :10249, the Cilium agent :9962, both on the node's own network) and its container's
    cgroup stats.

    ``histograms``: key -> (metric name, label substring or None); the first key is the proxy's
    "programmed the dataplane" histogram (kube-proxy's rule sync, Cilium's LB reconciler)."""

    cluster: ClusterInfo
    container: str
    metrics_port: int
    histograms: dict[str, tuple[str, str | None]]
    nodes: NodeAccess  # how the proxy's node-local endpoint and crictl are reached (proxylab/nodes/)

    @property
    def primary(self) -> str:
        return next(iter(self.histograms))

    def scrape(self) -> dict[str, str]:
        """Node -> metrics text, fetched inside the node (the port is the node's own)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with ThreadPoolExecutor(len(self.cluster.nodes)) as pool:
            texts = pool.map(lambda n: self.nodes.run(n, ["curl", "-s", "--max-time", "10", url]), self.cluster.nodes)
            return dict(zip(self.cluster.nodes, texts, strict=True))

    def deltas(self, before: dict[str, str], after: dict[str, str]) -> dict[str, dict[str, Any] | None]:
        """Each histogram's change between two scrapes, summed over nodes (None: not exported)."""
        out: dict[str, dict[str, Any] | None] = {}
        for key, (name, match) in self.histograms.items():
            h = promtext.delta_over_nodes(before, after, name, match)
            out[key] = h.summary() if h else None
        return out

    def stats(self) -> list[resources.ContainerSample]:
        """One crictl stats sample of the proxy container on every node."""
        def one(node: str) -> list[resources.ContainerSample]:
            doc = json.loads(self.nodes.run(node, ["crictl", "stats", "-o", "json", "--label",
                                                   f"io.kubernetes.container.name={self.container}"]))
            return resources.parse_crictl_stats(doc, self.container)

        with ThreadPoolExecutor(len(self.cluster.nodes)) as pool:
            return [s for part in pool.map(one, self.cluster.nodes) for s in part]


@pytest.fixture(scope="session")
def proxy(cluster: ClusterInfo, proxy_mode: ProxyMode, node_access: NodeAccess) -> ProxyObserver:
    """The session mode's proxy (kube-proxy, or the replacement's agent), as the mode describes it."""
    spec = proxy_mode.observer()
    return ProxyObserver(cluster, spec.container, spec.metrics_port, dict(spec.histograms), node_access)


def client_node(ns: Namespace) -> str | None:
    """Load and probes run on the first worker; backends spread over all workers."""
    return ns.workers[0] if ns.workers else None


def now() -> float:
    return time.time()


_MODULE_ORDER = ("test_throughput", "test_failover", "test_programming")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the sweep (thousands of Services, deleted afterwards in the background) last, after
    the load scenarios it would disturb; other suites' items keep their places."""
    slots = [i for i, it in enumerate(items) if "suites/performance/" in it.nodeid]

    def rank(it: pytest.Item) -> int:
        name = it.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        return _MODULE_ORDER.index(name) if name in _MODULE_ORDER else len(_MODULE_ORDER)

    ordered = sorted((items[i] for i in slots), key=rank)
    for i, it in zip(slots, ordered, strict=True):
        items[i] = it
