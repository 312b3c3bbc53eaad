"""Numbers several modules must agree on: the cluster's address ranges and well-known ports.

The CIDRs are what kind is configured with (proxylab/kindconfig.py) and what the containment guard
blocks on the host (proxylab/guard.py); the ports are where the proxies export their metrics and
where the echo backend listens.
"""

from __future__ import annotations

SERVICE_CIDR = "10.96.0.0/12"
POD_CIDR = "10.244.0.0/16"

KUBE_PROXY_METRICS_PORT = 10249  # kube-proxy's metricsBindAddress (and /proxyMode), on the node's network
CILIUM_AGENT_METRICS_PORT = 9962  # the Cilium agent's Prometheus endpoint (hostNetwork)
ECHO_HTTP_PORT = 8080  # the echo backend's HTTP port (containerPort and Services' targetPort)
ECHO_UDP_PORT = 8081
MAX_LOAD_WORKERS = 50  # locust workers of one load run (--load-workers, LoadSpec.workers)
