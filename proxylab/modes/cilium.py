"""The ebpf mode: Cilium as the CNI and the kube-proxy replacement.

kind runs without kube-proxy and without a CNI; :func:`proxylab.cilium.install` loads Cilium's
images, applies its rendered chart and waits for it, and :func:`proxylab.cilium.verify` proves the
replacement is in charge. The agent is observed on its own metrics port; its images are built
offline by proxylab/images/ciliumimages.py (or pulled).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .. import cilium, kube
from ..constants import CILIUM_AGENT_METRICS_PORT
from ..errors import ClusterError, CommandFailed
from ..images import ciliumimages
from ..images.catalog import Catalog
from ..images.steps import Step
from ..kernel import options_support
from ..perf import dataplane
from ..versions import Pins
from .base import (
    Histograms,
    InstallContext,
    KindSettings,
    ObserverSpec,
    OfflineImageContext,
    ProxyMode,
    ProxyPods,
    register,
)

# Cilium v1.20's load-balancer control plane reconciles its BPF maps through statedb reconcilers;
# the label filter keeps the load-balancer ones. (Its cilium_service_implementation_delay is
# declared but not observed in this version.)
HISTOGRAMS: Histograms = {"lb_reconcile": ("cilium_reconciler_duration_seconds", "loadbalancer"),
                          "k8s_event_lag": ("cilium_k8s_event_lag_seconds", None)}
AGENT_CONTAINER = "cilium-agent"
SLOTS_PER_SERVICE = 2  # a one-backend ClusterIP Service: its frontend slot + one backend slot

_NO_ENDPOINTS = ("Cilium's socket-level load balancer fails connect() to a Service without backends with "
                 "EHOSTUNREACH (fast) where kube-proxy's REJECT gives ECONNREFUSED")


class CiliumMode(ProxyMode):
    value = "ebpf"
    host_requirement = "bpf syscall + BTF, cgroup BPF, clsact (Cilium kube-proxy replacement)"
    kernel_options = ("CONFIG_BPF_SYSCALL", "CONFIG_DEBUG_INFO_BTF", "CONFIG_CGROUP_BPF", "CONFIG_NET_CLS_BPF")
    uses_kube_proxy = False
    cni = "Cilium (proxylab/cilium.py)"
    cni_enforces_network_policy = True
    known_differences = MappingProxyType({
        "test_service_without_endpoints_is_refused_promptly": _NO_ENDPOINTS,
        "test_service_without_endpoints_refuses_within_one_second": _NO_ENDPOINTS,
        "test_service_without_endpoints_is_refused":
            "Cilium's socket-level load balancer fails connect() to a Service without backends with "
            "EHOSTUNREACH (classified 'unreachable') where kube-proxy's REJECT gives ECONNREFUSED",
        # Kubernetes' own specs (suites/upstream), measured on this mode with `--upstream-set all`:
        "test_upstream_spec[should-be-rejected-when-no-endpoints-exist]": _NO_ENDPOINTS + "; the spec waits "
            "for 'Connection refused' and times out",
        "test_upstream_spec[should-be-rejected-for-evicted-pods-no-endpoints-exist]": _NO_ENDPOINTS + "; the spec "
            "waits for 'Connection refused' and times out",
        "test_upstream_spec[should-fallback-to-local-terminating-endpoints-when-there-are-no-ready-endpoints-with-"
        "externaltrafficpolicy-local]":
            "with externalTrafficPolicy=Local and only terminating endpoints, Cilium answered a NodePort "
            "connection on a node without a local endpoint (the spec's client got 'echo-hostname-0'); kube-proxy "
            "drops it there",
        "test_upstream_spec[should-be-possible-to-connect-to-a-service-via-externalip-when-the-external-ip-is-not-"
        "assigned-to-a-node]":
            "Cilium as installed (socket LB; its status reports externalIPs enabled) did not translate the "
            "Service's externalIP for a connection from a pod: nc to 203.0.113.250:80 timed out (the SYN "
            "went to the host, where the containment guard dropped it)",
    })

    def host_support(self) -> tuple[bool, str]:
        if not Path("/sys/kernel/btf/vmlinux").exists():
            return False, "kernel has no BTF (/sys/kernel/btf/vmlinux missing); Cilium needs it"
        return options_support(self.value, self.kernel_options)

    def kind_settings(self) -> KindSettings:
        return KindSettings(kube_proxy_mode="none")

    def install(self, ctx: InstallContext) -> dict[str, Any]:
        """Cilium is the CNI as well as the proxy: proxylab's ptp CNI stays off."""
        return cilium.install(ctx.name, ctx.kubeconfig, ctx.cluster_dir, [n.name for n in ctx.nodes], ctx.pins,
                              ctx.load_image, ctx.t0)

    def verify(self, kubeconfig: Path, nodes: list[str]) -> dict[str, Any]:
        return cilium.verify(kubeconfig, nodes)

    def observer(self) -> ObserverSpec:
        return ObserverSpec(AGENT_CONTAINER, CILIUM_AGENT_METRICS_PORT, HISTOGRAMS)

    def proxy_version(self, pins: Pins) -> str:
        return f"cilium {pins.raw['cilium']['version']}"

    def _agent_json(self, node: str, api: Any, argv: list[str]) -> Any:
        """``argv`` run in the Cilium agent on ``node``, its JSON output parsed."""
        pods = cilium.agent_pods(api)
        if node not in pods:
            raise ClusterError(f"no Cilium agent on {node}; see `kubectl -n {cilium.NAMESPACE} get pods`")
        res = kube.exec_in_pod(api, cilium.NAMESPACE, pods[node], argv, container=AGENT_CONTAINER, timeout=180)
        if res.returncode != 0:
            raise CommandFailed(argv, res.returncode, res.stderr[-300:], hint=f"in the Cilium agent {pods[node]}")
        return json.loads(res.stdout)

    def dataplane_counts(self, node: str, api: Any) -> dict[str, int]:
        return dataplane.count_cilium(self._agent_json(node, api, ["cilium-dbg", "service", "list", "-o", "json"]))

    def dataplane_entries(self, node: str, api: Any, ip: str, port: int | None = None) -> list[str]:
        """The BPF service map's frontends at ip[:port] (what the datapath looks up), not the agent's
        control-plane view: a frontend deleted there but left in the map would still be served."""
        listing = self._agent_json(node, api, ["cilium-dbg", "bpf", "lb", "list", "-o", "json"])
        return dataplane.entries_cilium_lb(listing or {}, ip, port)

    def proxy_pods(self) -> ProxyPods:
        """The agent pods; a new agent is Ready (its readiness probe) once it has restored its
        endpoints and synced the load balancer with the API (the default :meth:`synced_at`)."""
        return ProxyPods(cilium.NAMESPACE, "cilium", cilium.AGENT_LABEL)

    def switch_refusal(self, target: ProxyMode) -> str | None:
        return (f"this cluster runs Cilium as its CNI and kube-proxy replacement (kind started it without "
                f"kube-proxy): switching to {target.value} means reinstalling pod networking and kube-proxy; "
                f"create a cluster with `proxylab cluster up --mode {target.value}`")

    def sweep_limit(self) -> tuple[int | None, str]:
        n = cilium.LB_MAP_MAX // SLOTS_PER_SERVICE
        return n, (f"Cilium's load-balancer maps hold {cilium.LB_MAP_MAX} entries (bpf-lb-map-max, set by "
                   f"proxylab/cilium.py), {SLOTS_PER_SERVICE} per one-backend Service")

    def offline_image_steps(self, ctx: OfflineImageContext) -> list[Step]:
        return ciliumimages.offline_steps(ctx.pins, ctx.catalog, ctx.go, ctx.base_key, ctx.cni_plugins_out,
                                          ctx.cni_plugins_key)

    def pull_image_steps(self, pins: Pins, catalog: Catalog, go: str) -> list[Step]:
        return ciliumimages.pull_steps(pins, catalog, go)


EBPF = register(CiliumMode())
