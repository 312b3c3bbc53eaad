"""Numbers several modules must agree on: the cluster's address ranges, well-known ports, timeouts.

The CIDRs are what kind is configured with (proxylab/kindconfig.py) and what the containment guard
blocks on the host (proxylab/guard.py); the ports are where the proxies export their metrics and
where the echo backend listens. The timeouts (seconds) are the bounds of waits that recur across
modules; each is generous for a 2-core machine running three kind nodes, so hitting one means
something is wrong, not slow. A wait with one call site and a reason of its own keeps its number
there, next to that reason.
"""

from __future__ import annotations

SERVICE_CIDR = "10.96.0.0/12"
POD_CIDR = "10.244.0.0/16"

KUBE_PROXY_METRICS_PORT = 10249  # kube-proxy's metricsBindAddress (and /proxyMode), on the node's network
CILIUM_AGENT_METRICS_PORT = 9962  # the Cilium agent's Prometheus endpoint (hostNetwork)
ECHO_HTTP_PORT = 8080  # the echo backend's HTTP port (containerPort and Services' targetPort)
ECHO_UDP_PORT = 8081
MAX_LOAD_WORKERS = 50  # locust workers of one load run (--load-workers, LoadSpec.workers)

# Host and image steps
DOCKER_QUERY_TIMEOUT_S = 20.0  # `docker version` / `docker inspect`: the engine answers at once or is hung
DOCKER_PULL_TIMEOUT_S = 1800.0  # pulling or pushing one image (the pull path, the local registry)
KIND_COMMAND_TIMEOUT_S = 900.0  # `kind create cluster`, `kind load docker-image` of a large image
KIND_SMALL_LOAD_TIMEOUT_S = 300.0  # `kind load` of a fixture image (tens of MB)

# Cluster readiness
NODES_READY_TIMEOUT_S = 240.0  # every node Ready, CoreDNS ready, after kind made the nodes
POD_READY_TIMEOUT_S = 120.0  # a test's pods Ready (probe pods, echo backends)
NAMESPACE_READY_TIMEOUT_S = 60.0  # a new namespace has its default ServiceAccount
PROXY_READY_TIMEOUT_S = 180.0  # the proxy's DaemonSet ready again after a restart or a config change

# Commands on nodes
NODE_COMMAND_TIMEOUT_S = 30.0  # one command on a node (docker exec or the node agent)
RULES_DUMP_TIMEOUT_S = 120.0  # iptables-save / nft list / ipvsadm -Ln with tens of thousands of Services

# Load runs
REQUEST_TIMEOUT_S = 3.0  # one request of a load run (locust, wrk, vegeta): longer is a timeout failure
