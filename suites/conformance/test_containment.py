"""The containment guard: untranslated traffic to in-cluster ranges never leaves the host.

An address inside the service CIDR that no Service uses is, by definition, not programmed by any
proxy. A connection to it from a node must fail fast (ICMP unreachable from the host's guard
route, or a reject by the proxy), and not one packet for it may appear on the host's outgoing
interface. The same holds from a plain container on the kind network outside the cluster, where
no proxy is involved at all and only the guard stands in the way.
"""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client
from testcontainers.core.container import DockerContainer

from proxylab import docker as docker_mod
from proxylab import guard, kube
from proxylab.cluster import ClusterInfo
from proxylab.existing import docker_network
from proxylab.images.catalog import Catalog
from proxylab.nodes import NodeAccess
from proxylab.shell import run
from proxylab.versions import load_pins

pytestmark = [pytest.mark.e2e, pytest.mark.node_access]  # the host's guard and the nodes' containers

UNUSED_SERVICE_IP = "10.111.222.233"  # inside 10.96.0.0/12; the allocator picks randomly, so check it is free
UNUSED_POD_IP = "10.244.250.250"  # inside 10.244.0.0/16, beyond any /24 node podCIDR a small cluster gets
# What upstream e2e specs send to or program outside the cluster ranges (proxylab/guard.py).
UPSTREAM_EXTERNAL_IP = "203.0.113.250"
UPSTREAM_ENDPOINT_IP = "10.0.0.24"
UPSTREAM_EXTERNAL_IPV6 = "2001:db8::cb00:71fa"
FAIL_FAST_SECONDS = 3.0


def _assert_unused(cluster: ClusterInfo, ip: str) -> None:
    services = client.CoreV1Api(kube.api_client(cluster.kubeconfig)).list_service_for_all_namespaces().items
    if ip in {s.spec.cluster_ip for s in services}:
        pytest.skip(f"{ip} happens to be allocated in this cluster; rerun")


def test_guard_routes_are_installed(cluster: ClusterInfo, metrics: dict[str, object]) -> None:
    routes = guard.installed_routes()
    metrics.update(routes=routes)
    assert set(guard.GUARDED_CIDRS) <= set(routes), f"guard routes missing: {routes}"


def _bridge() -> str:
    network = docker_mod.inspect("network", docker_network())[0]
    return str(network.get("Options", {}).get("com.docker.network.bridge.name") or f"br-{network['Id'][:12]}")


@pytest.mark.parametrize("target", [UNUSED_SERVICE_IP, UNUSED_POD_IP, UPSTREAM_EXTERNAL_IP, UPSTREAM_ENDPOINT_IP])
def test_unprogrammed_address_from_a_node_never_leaves_the_host(
        cluster: ClusterInfo, target: str, node_access: NodeAccess, metrics: dict[str, object]) -> None:
    """Either the node itself drops it (nftables mode drops unallocated ClusterIPs by design), or it
    reaches the host, where the guard must reject it fast. Never does it reach the uplink."""
    _assert_unused(cluster, target)
    node = next(n for n in cluster.nodes if "worker" in n)
    iface = guard.default_interface()
    with guard.PacketWatch(iface, target) as uplink, guard.PacketWatch(_bridge(), target) as bridge:
        t0 = time.monotonic()
        res = node_access.call(node, ["curl", "-sS", "--max-time", "5", f"http://{target}:80/"])
        seconds = time.monotonic() - t0
    stopped_by = "host guard" if bridge.seen else "node (proxy rules)"
    metrics.update(node=node, target=target, seconds=round(seconds, 3), curl=res.stdout.strip()[-200:],
                   packets_on_uplink=uplink.seen, packets_to_host=bridge.seen, stopped_by=stopped_by, interface=iface)
    assert res.returncode != 0, f"a connection to unprogrammed {target} succeeded: {res.stdout}"
    assert uplink.seen == 0, f"{uplink.seen} packets to {target} left the host on {iface}"
    if bridge.seen:
        assert seconds < FAIL_FAST_SECONDS, f"the host guard took {seconds:.1f}s to reject (a timeout, not a reject)"


def test_ipv6_documentation_prefix_never_leaves_the_host(cluster: ClusterInfo, metrics: dict[str, object]) -> None:
    """The IPv6 twin of upstream's ExternalIP (an IPv6 cluster's spec connects to it). kind's network
    here is IPv4 only, so the path that could leak is the host's own IPv6 default route: e2e.test
    runs on the host. The guard's unreachable route must refuse it at once, with 0 packets out."""
    iface = guard.default_interface()
    with guard.PacketWatch(iface, UPSTREAM_EXTERNAL_IPV6) as uplink:
        t0 = time.monotonic()
        res = run(["curl", "-sS", "-6", "--max-time", "5", f"http://[{UPSTREAM_EXTERNAL_IPV6}]:80/"], check=False)
        seconds = time.monotonic() - t0
    metrics.update(target=UPSTREAM_EXTERNAL_IPV6, seconds=round(seconds, 3), curl=res.stdout.strip()[-200:],
                   packets_on_uplink=uplink.seen, interface=iface)
    assert res.returncode != 0, f"a connection to {UPSTREAM_EXTERNAL_IPV6} succeeded: {res.stdout}"
    assert uplink.seen == 0, f"{uplink.seen} packets to {UPSTREAM_EXTERNAL_IPV6} left the host on {iface}"
    assert seconds < FAIL_FAST_SECONDS, f"took {seconds:.1f}s to fail (a timeout, not a reject)"


def test_outside_container_cannot_reach_cluster_ranges(cluster: ClusterInfo, metrics: dict[str, object]) -> None:
    """From the kind network, outside the cluster: only the host's guard route stands in the way."""
    iface = guard.default_interface()
    container = (DockerContainer(Catalog(load_pins()).echo)
                 .with_command(f"connect {UNUSED_SERVICE_IP}:80")
                 .with_kwargs(network=docker_network(), labels={docker_mod.LABEL: "probe"}))
    with guard.PacketWatch(iface, UNUSED_SERVICE_IP) as watch:
        container.start()
        try:
            wrapped = container.get_wrapped_container()
            wrapped.wait(timeout=30)
            answer = json.loads(wrapped.logs().decode().strip().splitlines()[-1])
        finally:
            container.stop()
    metrics.update(answer=answer, packets_on_uplink=watch.seen)
    assert not answer["ok"], "an outside container reached an address in the service CIDR"
    assert answer["ms"] < FAIL_FAST_SECONDS * 1000, f"failure took {answer['ms']} ms"
    assert watch.seen == 0, f"{watch.seen} packets left the host on {iface}"


def test_packet_watch_sees_traffic_it_should(cluster: ClusterInfo, metrics: dict[str, object]) -> None:
    """Guards the guard's test: the watcher must count packets that do cross an interface.

    Host -> control-plane node traffic crosses the proxylab bridge; if PacketWatch missed it,
    the "0 packets on the uplink" assertions above would be vacuous.
    """
    bridge = _bridge()
    node_ip = next(iter(docker_mod.inspect("container", cluster.nodes[0])[0]["NetworkSettings"]["Networks"]
                        .values()))["IPAddress"]
    with guard.PacketWatch(bridge, node_ip) as watch:
        run(["curl", "-sk", "--max-time", "5", f"https://{node_ip}:6443/healthz"], check=False)
    metrics.update(interface=bridge, target=node_ip, packets=watch.seen)
    assert watch.seen > 0, f"PacketWatch saw no packets to {node_ip} on {bridge}"


def test_packet_watch_sees_ipv6_traffic(cluster: ClusterInfo, metrics: dict[str, object]) -> None:
    """The IPv6 assertion above is only as good as the watcher: it must count IPv6 frames (here a
    refused connection to ::1 on the loopback interface, which never leaves the host)."""
    with guard.PacketWatch("lo", "::1") as watch:
        run(["curl", "-sS", "-6", "--max-time", "2", "http://[::1]:9/"], check=False)
    metrics.update(interface="lo", target="::1", packets=watch.seen)
    assert watch.seen > 0, "PacketWatch saw no IPv6 packets to ::1 on lo"
