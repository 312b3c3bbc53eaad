"""proxylab's fallback CNI: ptp veths + host-local IPAM per node + static routes between nodes.

kindnetd (kind's default CNI) lives in its own Go module that the module proxy does not serve, so
proxylab configures pod networking itself once the nodes have their podCIDRs: each node gets a
ptp/host-local conflist for its podCIDR and a route to every other node's podCIDR via that node's
IP. Pod traffic is never masqueraded: nothing from a pod is meant to leave the kind network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kubernetes.client import ApiClient

from . import kube
from .shell import run

CONFLIST_PATH = "/etc/cni/net.d/10-proxylab-ptp.conflist"


@dataclass(frozen=True)
class NodeNet:
    name: str
    ip: str
    pod_cidr: str


def node_nets(api: ApiClient) -> list[NodeNet]:
    """Every node's name, InternalIP and podCIDR ("" where it has none yet)."""
    return [NodeNet(n, ip, cidr or "") for n, ip, cidr in kube.node_networks(api)]


def conflist(pod_cidr: str) -> str:
    return json.dumps({
        "cniVersion": "1.0.0",
        "name": "proxylab-ptp",
        "plugins": [
            {"type": "ptp", "ipMasq": False, "mtu": 1500,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr}]], "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }, indent=2)


def route_commands(node: NodeNet, all_nodes: list[NodeNet]) -> list[list[str]]:
    return [["ip", "route", "replace", other.pod_cidr, "via", other.ip]
            for other in all_nodes if other.name != node.name]


def configure(nodes: list[NodeNet]) -> None:
    for node in nodes:
        run(["docker", "exec", "-i", node.name, "sh", "-c", f"cat > {CONFLIST_PATH}"], input=conflist(node.pod_cidr))
        for cmd in route_commands(node, nodes):
            run(["docker", "exec", node.name, *cmd], hint=f"adding pod route on {node.name}")
