"""Service changes take effect and leave nothing behind (issue 11): a port added to a Service
answers, a port removed stops answering, a deleted Service stops answering, the same name
re-created (on a new ClusterIP) answers; each within a measured time, from a client pod. After
each removal, no node's dataplane holds an entry for what is gone (ProxyMode.dataplane_entries:
the proxy's own listing, e.g. iptables-save, nft, ipvsadm, Cilium's BPF service map); before it,
every node did hold one (so an empty listing cannot pass for a clean one).

Times are the harness's wall clock just before the API call to the probe's first sample with the
new outcome (pods share the host's clock). Appearing (``echo until ... ok``): resolution <= connect
timeout + gap. Disappearing (``echo series``, every 50 ms): the first sample after the last one that
still answered.

The Service is changed through the API directly, not through the ServiceFixture, so the measured
time is the proxy's alone, not the operator's reconcile as well. (Writing this test found that
the operator kept a port removed from a fixture's spec: its strategic merge patch merged
``spec.ports``; fixed, and suites/operator checks it.) Deleting and re-creating the Service alone
(the fixture's backends stay) also keeps pod start-up and garbage collection out of the measured
time.
"""

from __future__ import annotations

import ipaddress
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from proxylab import failures
from proxylab.constants import SERVICE_CIDR
from proxylab.convergence import converged_at
from proxylab.modes import ProxyMode
from proxylab.nodes import NodeAccess
from suites.conformance.checks import Series
from suites.namespaces import Namespace, UntilPoll, in_background

pytestmark = pytest.mark.e2e

NAME = "changing"
ADDED_PORT = 8000
UNTIL_DEADLINE_S = 60
UNTIL_POLL = UntilPoll(UNTIL_DEADLINE_S, timeout_ms=100, gap_ms=20)
SERIES_MS = 8000  # how long a removal is watched; every proxy under test converges in ~1-2 s
BOUND_S = 5.0  # a change must take effect within this (kube-proxy syncs at most every 1 s)
CLEAN_DEADLINE_S = 15.0  # how long every node's dataplane may take to drop what is gone
# What "stopped answering" may look like: a proxy may reject (refused), or leave the packet
# untranslated, which then meets the host's containment guard route (unreachable, or a timeout
# once the host rate-limits its ICMP errors; measured on iptables: timeout).
GONE = {f"!{k}" for k in (failures.REFUSED, failures.UNREACHABLE, failures.TIMEOUT)}


@dataclass
class Changing:
    """The Service under change, its backends (a fixture), the client pod and the mode."""

    ns: Namespace
    pod: str  # the client pod
    mode: ProxyMode
    selector: dict[str, str]  # the fixture's pods, for a re-created Service
    deleted_ip: str = ""  # the ClusterIP of the deleted Service

    def core(self) -> client.CoreV1Api:
        return self.ns.core()

    def service(self) -> client.V1Service | None:
        try:
            return self.core().read_namespaced_service(NAME, self.ns.name)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def cluster_ip(self) -> str:
        svc = self.service()
        assert svc is not None, f"Service {self.ns.name}/{NAME} does not exist"
        return str(svc.spec.cluster_ip)

    def ports(self) -> list[int]:
        svc = self.service()
        return [p.port for p in svc.spec.ports] if svc else []

    def entries(self, ip: str, port: int | None) -> dict[str, list[str]]:
        """Every node's dataplane entries for ip[:port]."""
        return {node: self.mode.dataplane_entries(node, self.ns.api, ip, port) for node in self.ns.cluster.nodes}


def _until_ok(ch: Changing, address: str, change: Callable[[], float]) -> dict[str, Any]:
    """Poll ``address`` from the client until it answers, make ``change()`` (returns the harness's
    time just before the API call) meanwhile; the seconds from the change to the first answer."""
    bg = in_background(lambda: ch.ns.until(ch.pod, address, "ok", UNTIL_POLL))
    time.sleep(1.5)  # the exec's start-up; the probe's own start time is checked below
    t0 = change()
    res = bg.result(UNTIL_DEADLINE_S + 90)
    assert res["started"] < t0, f"the probe of {address} started after the change: nothing observed before it"
    hit = res.get("hit")
    return {"s": round(hit - t0, 3) if hit else None, "outcomes_before": res["outcomes"],
            "resolution_ms": round((hit - res["prev"]) * 1000, 1) if hit and res.get("prev") else None}


def _series_gone(ch: Changing, url: str, change: Callable[[], float]) -> dict[str, Any]:
    """Requests to ``url`` every 50 ms around ``change()``: the seconds from the change until it
    stopped answering for good (a connection-level failure: refused, unreachable or timeout)."""
    series = Series(ch.ns, ch.pod, url, SERIES_MS)
    time.sleep(1.5)
    t0 = change() * 1000
    samples = series.samples(SERIES_MS / 1000 + 60, t0)
    before = [s for s in samples if s.t_ms < t0]
    ms = converged_at(samples, t0, lambda who: who in GONE)
    after = sorted({s.who for s in samples if s.t_ms >= t0 + (ms or 0)})
    return {"s": None if ms is None else round(ms / 1000, 3), "answered_before": sum(not s.failed for s in before),
            "samples_before": len(before), "outcome_after": ",".join(k.lstrip("!") for k in after)}


def _wait_clean(ch: Changing, ip: str, port: int | None) -> tuple[float, dict[str, list[str]]]:
    """Poll every node's dataplane until none holds an entry for ip[:port]; (seconds, leftovers)."""
    t0 = time.monotonic()
    while True:
        left = {node: found for node, found in ch.entries(ip, port).items() if found}
        if not left or time.monotonic() - t0 > CLEAN_DEADLINE_S:
            return round(time.monotonic() - t0, 2), left


def _assert_programmed_everywhere(ch: Changing, ip: str, port: int | None, what: str) -> int:
    """Every node's dataplane holds ip[:port] (polled: the client's node answering does not mean
    every other node has synced); the number of entries found."""
    deadline = time.monotonic() + CLEAN_DEADLINE_S
    while True:
        found = ch.entries(ip, port)
        missing = [node for node, lines in found.items() if not lines]
        if not missing:
            return sum(len(v) for v in found.values())
        assert time.monotonic() < deadline, \
            f"{what}: no dataplane entry for {ip}:{port or '*'} on {missing} ({ch.mode} listing) while it answers"
        time.sleep(0.5)


def _errors_of(ch: Changing, url: str) -> dict[str, int]:
    """The errors of 20 requests to ``url`` (the part of the Service that should be untouched)."""
    errors: dict[str, int] = ch.ns.probe(ch.pod, "get", url, "20")["errors"]
    return errors


def _patch_ports(ch: Changing, ops: list[dict[str, Any]]) -> float:
    t0 = time.time()
    ch.core().patch_namespaced_service(NAME, ch.ns.name, ops, _content_type="application/json-patch+json")
    return t0


def _add_port(ch: Changing) -> float:
    return _patch_ports(ch, [{"op": "add", "path": "/spec/ports/-", "value": {
        "name": "alt", "port": ADDED_PORT, "targetPort": "http", "protocol": "TCP"}}])


def _remove_port(ch: Changing) -> float:
    index = ch.ports().index(ADDED_PORT)
    return _patch_ports(ch, [{"op": "test", "path": f"/spec/ports/{index}/port", "value": ADDED_PORT},
                             {"op": "remove", "path": f"/spec/ports/{index}"}])


def _service_body(ch: Changing, cluster_ip: str) -> dict[str, Any]:
    """The fixture's Service as the operator renders it (selector, ports), on ``cluster_ip``."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME},
            "spec": {"selector": ch.selector, "clusterIP": cluster_ip,
                     "ports": [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}


def _free_cluster_ips(ch: Changing, avoid: str) -> list[str]:
    """Static-band ClusterIPs (the start of the range, which dynamic allocation leaves alone) not in use."""
    used = {s.spec.cluster_ip for s in ch.core().list_service_for_all_namespaces().items} | {avoid}
    band = (str(a) for a in itertools.islice(ipaddress.ip_network(SERVICE_CIDR).hosts(), 300, 400))
    return [ip for ip in band if ip not in used][:5]


@pytest.fixture(scope="module")
def changing(namespace: Namespace, proxy_mode: ProxyMode, node_access: NodeAccess) -> Changing:
    """(``node_access``: the dataplane entries are read on the nodes.)"""
    fx = namespace.fixture(NAME, {"replicas": 2, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]})
    st = fx.status()
    client_pod = namespace.probe_pod("client", namespace.workers[0] if namespace.workers else None)
    namespace.wait_serving(client_pod, f"http://{st['service']['clusterIP']}/", {e["pod"] for e in st["endpoints"]})
    selector = namespace.core().read_namespaced_service(NAME, namespace.name).spec.selector
    return Changing(namespace, client_pod, proxy_mode, dict(selector))


def test_added_port_answers(changing: Changing, metrics: dict[str, Any]) -> None:
    ch = changing
    ip = ch.cluster_ip()
    assert ADDED_PORT not in ch.ports(), f"port {ADDED_PORT} is on the Service already (tests run in file order)"
    res = _until_ok(ch, f"{ip}:{ADDED_PORT}", lambda: _add_port(ch))
    metrics.update(port_added_s=res["s"], resolution_ms=res["resolution_ms"], outcomes_before=res["outcomes_before"])
    assert res["s"] is not None, f"port {ADDED_PORT} added to {ip} never answered within {UNTIL_DEADLINE_S} s"
    assert res["s"] <= BOUND_S, f"port {ADDED_PORT} added to {ip} answered only after {res['s']} s (bound {BOUND_S} s)"
    metrics["entries_after"] = _assert_programmed_everywhere(ch, ip, ADDED_PORT, "added port")


def test_removed_port_stops_answering_and_leaves_no_entry(changing: Changing, metrics: dict[str, Any]) -> None:
    ch = changing
    ip = ch.cluster_ip()
    assert ADDED_PORT in ch.ports(), f"port {ADDED_PORT} is not on the Service (test_added_port_answers failed?)"
    metrics["entries_before"] = _assert_programmed_everywhere(ch, ip, ADDED_PORT, "port before removal")
    res = _series_gone(ch, f"http://{ip}:{ADDED_PORT}/", lambda: _remove_port(ch))
    clean_s, left = _wait_clean(ch, ip, ADDED_PORT)
    still = _errors_of(ch, f"http://{ip}:80/")
    metrics.update(port_removed_s=res["s"], outcome_after=res["outcome_after"], answered_before=res["answered_before"],
                   dataplane_clean_s=clean_s, leftover_entries=sum(len(v) for v in left.values()),
                   leftovers=left, other_port_errors=still)
    assert res["answered_before"], f"{ip}:{ADDED_PORT} did not answer before the port was removed: nothing measured"
    assert res["s"] is not None, f"{ip}:{ADDED_PORT} still answered {SERIES_MS / 1000:.0f} s after the port was removed"
    assert res["s"] <= BOUND_S, f"{ip}:{ADDED_PORT} answered for {res['s']} s after its removal (bound {BOUND_S} s)"
    assert not left, f"{CLEAN_DEADLINE_S:.0f} s after port {ADDED_PORT} was removed the dataplane still holds it: {left}"
    assert still == {}, f"the remaining port 80 of {ip} failed after port {ADDED_PORT} was removed: {still}"


def test_deleted_service_stops_answering_and_leaves_nothing(changing: Changing, metrics: dict[str, Any]) -> None:
    ch = changing
    ip = ch.deleted_ip = ch.cluster_ip()
    metrics["entries_before"] = _assert_programmed_everywhere(ch, ip, None, "Service before deletion")

    def delete() -> float:
        t0 = time.time()
        ch.core().delete_namespaced_service(NAME, ch.ns.name)
        return t0
    res = _series_gone(ch, f"http://{ip}/", delete)
    clean_s, left = _wait_clean(ch, ip, None)
    metrics.update(deleted_s=res["s"], outcome_after=res["outcome_after"], answered_before=res["answered_before"],
                   old_cluster_ip=ip, dataplane_clean_s=clean_s, leftover_entries=sum(len(v) for v in left.values()),
                   leftovers=left)
    assert res["answered_before"], f"{ip} did not answer before the Service was deleted: nothing measured"
    assert res["s"] is not None, f"the deleted Service's {ip} still answered {SERIES_MS / 1000:.0f} s later"
    assert res["s"] <= BOUND_S, f"the deleted Service's {ip} answered for {res['s']} s (bound {BOUND_S} s)"
    assert not left, f"{CLEAN_DEADLINE_S:.0f} s after the Service was deleted the dataplane still holds {ip}: {left}"


def test_recreated_service_gets_working_rules(changing: Changing, metrics: dict[str, Any]) -> None:
    """The same name on a new ClusterIP answers; the old one stays gone. The new address is
    chosen before the create call (a free one from the static band) so the probe can watch it
    before the Service exists."""
    ch = changing
    assert ch.service() is None, "the Service still exists (test_deleted_service_... failed?)"
    old = ch.deleted_ip
    candidates = _free_cluster_ips(ch, avoid=old)
    for new_ip in candidates:
        def create(new_ip: str = new_ip) -> float:
            t0 = time.time()
            ch.core().create_namespaced_service(ch.ns.name, _service_body(ch, new_ip))
            return t0
        try:
            res = _until_ok(ch, f"{new_ip}:80", create)
            break
        except client.ApiException as exc:
            if exc.status != 422:  # taken meanwhile: try the next address
                raise
    else:
        raise AssertionError(f"no free ClusterIP among {candidates} for the re-created Service")
    metrics.update(recreated_s=res["s"], new_cluster_ip=new_ip, resolution_ms=res["resolution_ms"])
    assert res["s"] is not None, f"the re-created Service on {new_ip} never answered within {UNTIL_DEADLINE_S} s"
    assert res["s"] <= BOUND_S, f"the re-created Service on {new_ip} answered only after {res['s']} s (bound {BOUND_S} s)"
    metrics["entries_after"] = _assert_programmed_everywhere(ch, new_ip, 80, "re-created Service")
    if old:
        _, left = _wait_clean(ch, old, None)
        metrics.update(old_cluster_ip=old, old_ip_leftover_entries=sum(len(v) for v in left.values()))
        assert not left, f"after the re-creation the dataplane holds the old ClusterIP {old} again: {left}"
