"""Cilium as the CNI and the kube-proxy replacement: the ebpf mode's install and verification
(the mode itself is proxylab/modes/cilium.py).

`cluster up --mode ebpf` creates kind with ``kubeProxyMode: none`` and no CNI, then the mode calls
:func:`install`: load the Cilium images, render the chart of the pinned Cilium module with
:func:`helm_values`, apply it, wait for the agents and the operator. :func:`verify` then proves the
replacement is in charge (no kube-proxy pods, no KUBE-SERVICES rules, the agents' service tables
list the cluster's Services); anything less fails the cluster.

Constraints of the development and CI hosts that shape the values (the README's *eBPF mode*
section; `proxylab doctor` checks the first one on the host at hand):

- CAP_SYS_RESOURCE is not in the bounding set, so it is removed from the agent's capabilities.
- No GENEVE: native routing between the kind nodes (one L2 docker network) instead of a tunnel.
- Pod traffic is not masqueraded, as with proxylab's own CNI: nothing from a pod is meant to
  leave the kind network, and the containment guard covers the pod and service CIDRs.
- Envoy (a separate C++ image) cannot be built offline: L7 proxy and Envoy off; Hubble off.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from . import docker, kube
from . import nodes as node_access
from .constants import CILIUM_AGENT_METRICS_PORT, POD_CIDR
from .errors import ClusterError, ProxylabError
from .images import ciliumimages
from .images.catalog import Catalog
from .images.dockerbuild import KEY_LABEL
from .shell import elapsed, run
from .versions import Pins
from .wait import wait_for

NAMESPACE = "kube-system"
AGENT_LABEL = "k8s-app=cilium"
# Every capability of the chart's default agent list except SYS_RESOURCE (not in the bounding set
# of such hosts, so a container asking for it cannot start; see `proxylab doctor`).
AGENT_CAPABILITIES = ["CHOWN", "KILL", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "SYS_MODULE", "SYS_ADMIN",
                      "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "SYSLOG"]
CLEAN_STATE_CAPABILITIES = ["NET_ADMIN", "SYS_MODULE", "SYS_ADMIN"]
LB_MAP_MAX = 131_072  # bpf-lb-map-max: entries of Cilium's load-balancer maps


def helm_values(pins: Pins, api_host: str, api_port: int = 6443, socket_lb: bool = True) -> dict[str, Any]:
    """Chart values for kind on this kind of host (pure; unit-tested)."""
    version = ciliumimages.version(pins)
    image = {"useDigest": False, "pullPolicy": "IfNotPresent", "tag": version}
    return {
        "kubeProxyReplacement": True,
        "k8sServiceHost": api_host,
        "k8sServicePort": api_port,
        "ipam": {"mode": "kubernetes"},
        "routingMode": "native",
        "autoDirectNodeRoutes": True,
        "ipv4NativeRoutingCIDR": POD_CIDR,
        "enableIPv4Masquerade": False,
        # Sized for the largest Services sweep (proxylab/perf/dataplane.py): the chart's default
        # 65,536 entries hold ~32,000 one-backend Services (a frontend slot + a backend slot each).
        "bpf": {"masquerade": False, "lbMapMax": LB_MAP_MAX},
        "socketLB": {"enabled": socket_lb},
        "image": {"repository": "quay.io/cilium/cilium", **image},
        "operator": {"replicas": 1, "image": {"repository": "quay.io/cilium/operator", "suffix": "", **image,
                                              "override": Catalog(pins).cilium_operator}},
        "envoy": {"enabled": False},
        "l7Proxy": False,
        "hubble": {"enabled": False},
        # The agent's own metrics (hostNetwork :9962): the performance suite scrapes its
        # load-balancer reconciler and Kubernetes event lag histograms, as it does kube-proxy's.
        # Both histograms are off by default in Cilium's metric list; "+name" turns one on.
        "prometheus": {"enabled": True, "port": CILIUM_AGENT_METRICS_PORT,
                       "metrics": ["+cilium_reconciler_duration_seconds", "+cilium_k8s_event_lag_seconds"]},
        "bgpControlPlane": {"enabled": False},
        "securityContext": {"capabilities": {"ciliumAgent": AGENT_CAPABILITIES,
                                             "cleanCiliumState": CLEAN_STATE_CAPABILITIES}},
    }


def requested_features(values: dict[str, Any]) -> dict[str, Any]:
    """What "ebpf" was asked to mean on this host, for results.json (``run.proxy_features``)."""
    return {
        "kube_proxy_replacement": values["kubeProxyReplacement"],
        "socket_lb": values["socketLB"]["enabled"],
        "routing": values["routingMode"] + (" + autoDirectNodeRoutes" if values["autoDirectNodeRoutes"] else ""),
        "masquerade": values["enableIPv4Masquerade"],
        "bpf_masquerade": values["bpf"]["masquerade"],
        "l7_proxy": values["l7Proxy"],
        "envoy": values["envoy"]["enabled"],
        "hubble": values["hubble"]["enabled"],
        "agent_capabilities_without": ["SYS_RESOURCE"],
    }


def render(pins: Pins, values: dict[str, Any], out: Path) -> str:
    """`helm template` of the pinned module's chart; returns the manifest text."""
    helm = ciliumimages.helm_binary(pins)
    if not helm.is_file():
        raise ClusterError(f"helm not found at {helm}; run `proxylab images build` (it builds helm "
                           f"{pins.raw['cilium']['helm']} for the ebpf mode)")
    values_file = out.with_suffix(".values.yaml")
    values_file.write_text(yaml.safe_dump(values, sort_keys=True))
    text = run([str(helm), "template", "cilium", str(ciliumimages.chart_dir(pins)), "--namespace", NAMESPACE,
                "--values", str(values_file), "--kube-version", pins.kubernetes], timeout=120,
               hint="rendering Cilium's chart failed; the values are in " + str(values_file)).stdout
    out.write_text(text)
    return text


def install(name: str, kubeconfig: Path, cluster_dir: Path, nodes: list[str], pins: Pins,
            load_image: Any, t0: float) -> dict[str, Any]:
    """Load images, apply the rendered chart, wait for agents + operator. Returns the features."""
    cat = Catalog(pins)
    for ref in cat.cilium_images():
        if not docker.image_exists(ref):
            raise ClusterError(f"image {ref} not found; run `proxylab images build` first")
        load_image(ref)
    print(f"cluster {name}: Cilium images loaded [{elapsed(t0)}]", flush=True)
    control_plane = next(n for n in nodes if n.endswith("control-plane"))
    api_host = _container_ip(control_plane)
    values = helm_values(pins, api_host)
    manifest = render(pins, values, cluster_dir / "cilium.yaml")
    api = kube.api_client(kubeconfig)
    for doc in yaml.safe_load_all(manifest):
        if doc:
            kube.server_side_apply(api, doc, default_namespace=NAMESPACE)
    wait_for(lambda: kube.daemonset_ready(api, NAMESPACE, "cilium"), timeout=600, what="Cilium agents ready",
             interval=3)
    wait_for(lambda: kube.deployment_ready(api, NAMESPACE, "cilium-operator"), timeout=300,
             what="Cilium operator ready", interval=3)
    print(f"cluster {name}: Cilium {ciliumimages.version(pins)} agents and operator ready [{elapsed(t0)}]",
          flush=True)
    features = requested_features(values)
    features["build_substitutions"] = ciliumimages.build_substitutions(pins) if _built_offline(cat) else {}
    return features


def _built_offline(cat: Catalog) -> bool:
    """Images built here carry proxylab's cache-key label; pulled upstream images do not."""
    return docker.image_label(cat.cilium, KEY_LABEL) is not None


def _container_ip(container: str) -> str:
    out = run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
               container]).stdout.split()
    if not out:
        raise ClusterError(f"no IP address for {container}")
    return out[0]


def agent_pods(api: Any) -> dict[str, str]:
    """node name -> Cilium agent pod name."""
    from kubernetes import client

    pods = client.CoreV1Api(api).list_namespaced_pod(NAMESPACE, label_selector=AGENT_LABEL).items
    return {p.spec.node_name: p.metadata.name for p in pods if p.metadata.deletion_timestamp is None}


def service_frontends(service_list: str) -> set[str]:
    """The ClusterIP:port frontends in `cilium-dbg service list` output (pure; unit-tested)."""
    return set(re.findall(r"^\s*\d+\s+(\d+\.\d+\.\d+\.\d+:\d+)(?:/\w+)?\s+ClusterIP", service_list, flags=re.M))


def agent_status(api: Any, pod: str) -> dict[str, Any]:
    res = kube.exec_in_pod(api, NAMESPACE, pod, ["cilium-dbg", "status", "-o", "json"], container="cilium-agent")
    if res.returncode != 0:
        raise ClusterError(f"`cilium-dbg status` in {pod} failed: {res.stderr or res.stdout}")
    status: dict[str, Any] = json.loads(res.stdout)
    return status


def effective_features(api: Any, pod: str) -> dict[str, Any]:
    """What the agent reports it runs (its kube-proxy-replacement section), not what we asked."""
    kpr = agent_status(api, pod).get("kube-proxy-replacement", {})
    feats = kpr.get("features", {})
    return {"mode": kpr.get("mode"), "devices": [d.get("name") for d in kpr.get("deviceList", [])],
            "socket_lb": feats.get("socketLB", {}).get("enabled"),
            "session_affinity": feats.get("sessionAffinity", {}).get("enabled"),
            "nodeport": feats.get("nodePort", {}).get("enabled"),
            "host_port": feats.get("hostPort", {}).get("enabled"),
            "external_ips": feats.get("externalIPs", {}).get("enabled"),
            "nat46x64": feats.get("nat46X64", {}).get("enabled"),
            "lb_mode": feats.get("nodePort", {}).get("mode"),
            "lb_algorithm": feats.get("nodePort", {}).get("algorithm")}


def verify(kubeconfig: Path, nodes: list[str], timeout: float = 90) -> dict[str, Any]:
    """The replacement is in charge, or ClusterError: no kube-proxy pods, no KUBE-SERVICES rules on
    any node, and every agent's service table lists every ClusterIP Service of the cluster."""
    from kubernetes import client

    api = kube.api_client(kubeconfig)
    core = client.CoreV1Api(api)
    problems: list[str] = []
    kp = core.list_namespaced_pod(NAMESPACE, label_selector="k8s-app=kube-proxy").items
    if kp:
        problems.append(f"kube-proxy pods exist: {', '.join(p.metadata.name for p in kp)}")
    for node in nodes:
        rules = node_access.current().call(node, [
            "sh", "-c", "(iptables-save -t nat; iptables-legacy-save -t nat; iptables-nft-save -t nat) 2>/dev/null"
                        " | grep -c -- '-A KUBE-SERVICES' || true"]).stdout.strip()
        if rules not in ("", "0"):
            problems.append(f"{node}: {rules} KUBE-SERVICES rules in the nat table")
    pods = agent_pods(api)
    missing_agents = [n for n in nodes if n not in pods]
    if missing_agents:
        problems.append(f"no Cilium agent on {', '.join(missing_agents)}")
    expected = {f"{s.spec.cluster_ip}:{p.port}" for s in core.list_service_for_all_namespaces().items
                if s.spec.cluster_ip not in (None, "None") for p in (s.spec.ports or [])}
    for node, pod in pods.items():
        state: dict[str, Any] = {"missing": expected}

        def listed(pod: str = pod, state: dict[str, Any] = state) -> tuple[bool, str]:
            res = kube.exec_in_pod(api, NAMESPACE, pod, ["cilium-dbg", "service", "list"], container="cilium-agent")
            state["missing"] = expected - service_frontends(res.stdout)
            return not state["missing"], f"{len(state['missing'])} Services missing: {sorted(state['missing'])[:5]}"

        try:
            wait_for(listed, timeout=timeout, what=f"Services in the service table of {pod}", interval=2)
        except (ProxylabError, ApiException) as exc:  # a timeout, or an API answer such as 404: the agent's problem
            problems.append(f"{node}: agent {pod}: {exc}")
    if problems:
        raise ClusterError("the Cilium kube-proxy replacement is not in charge: " + "; ".join(problems))
    any_pod = next(iter(pods.values()))
    return {"effective": effective_features(api, any_pod), "services_verified": len(expected),
            "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
