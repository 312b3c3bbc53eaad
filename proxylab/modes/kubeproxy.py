"""kube-proxy modes: iptables, nftables and IPVS, and kube-proxy with non-default settings.

kind runs kube-proxy itself (``networking.kubeProxyMode``); pod networking is proxylab's own ptp
CNI (proxylab/cni.py). Verification asks kube-proxy which proxier it runs (``/proxyMode`` on its
metrics port) and looks for that proxier's rules in each node's kernel, so a cluster that fell
back to another proxier is an error. A mode that differs only in KubeProxyConfiguration fields is
one more :class:`KubeProxyMode` registered below, with its ``config``.

``iptables-minsync0``: the iptables proxier without batching. kube-proxy waits at least
``minSyncPeriod`` (default 1 s) between rule syncs, so a burst of Service/EndpointSlice changes is
programmed in one sync; the Kubernetes docs' "Performance optimization for iptables mode" discusses
0 (sync on every change: lowest programming latency, most proxy CPU under churn) against larger
values for big clusters. It is the trade-off the Services sweep measures (programming latency of
one more Service/endpoint, kube-proxy's sync histogram, proxy CPU), against ``iptables``, where
kind's own KubeProxyConfiguration sets 1 s (kube-proxy's default too; this mode's patch overrides
it). A literal ``0s`` cannot be expressed in the config file: kube-proxy's v1alpha1 defaulting
turns a zero minSyncPeriod into 1 s (pkg/proxy/apis/config/v1alpha1/defaults.go), so the mode
sets ``1ns``, which its BoundedFrequencyRunner treats like 0; verification reads ``/configz``
and fails the cluster if kube-proxy runs with anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .. import cni, kernel, kube
from .. import nodes as node_access
from ..constants import KUBE_PROXY_METRICS_PORT, PROXY_READY_TIMEOUT_S, RULES_DUMP_TIMEOUT_S
from ..errors import ClusterError, WaitTimeout
from ..perf import dataplane
from ..versions import Pins
from ..wait import wait_for
from .base import Histograms, InstallContext, KindSettings, ObserverSpec, ProxyMode, ProxyPods, register

HISTOGRAMS: Histograms = {
    "sync_proxy_rules": ("kubeproxy_sync_proxy_rules_duration_seconds", None),
    "network_programming": ("kubeproxy_network_programming_duration_seconds", None)}


@dataclass(frozen=True)
class Proxier:
    """One of kube-proxy's dataplane backends: what /proxyMode answers, and how to see its rules."""

    name: str  # KubeProxyConfiguration.mode, and kube-proxy's /proxyMode answer
    evidence: Callable[[str], tuple[bool, str]]  # node -> (rules present, description)
    counts: Callable[[str], dict[str, int]]  # node -> what it programmed (proxylab/perf/dataplane.py)
    # (node, ip, port) -> the lines of its listing that program ip[:port] (proxylab/perf/dataplane.py)
    entries: Callable[[str, str, int | None], list[str]]
    # node -> the Services ("ip:port") in the order a first packet is compared against them, for a
    # proxier that looks Services up in a list; None where the lookup is a hash (nftables maps, IPVS)
    match_order: Callable[[str], list[str]] | None = None


def _iptables_evidence(node: str) -> tuple[bool, str]:
    res = node_access.current().call(node, ["sh", "-c", "iptables-save -t nat | grep -c '^-A KUBE-SERVICES'"])
    n = int(res.stdout.strip() or 0) if res.stdout.strip().isdigit() else 0
    return n > 0, f"{n} KUBE-SERVICES rules in the nat table"


def _nftables_evidence(node: str) -> tuple[bool, str]:
    res = node_access.current().call(node, ["nft", "list", "chain", "ip", "kube-proxy", "services"])
    return res.returncode == 0, "nft table ip kube-proxy" + (" present" if res.returncode == 0 else " missing")


def _ipvs_evidence(node: str) -> tuple[bool, str]:
    res = node_access.current().call(node, ["ip", "link", "show", "kube-ipvs0"])
    return res.returncode == 0, "kube-ipvs0 " + ("present" if res.returncode == 0 else "missing")


def _iptables_entries(node: str, ip: str, port: int | None) -> list[str]:
    # Every table: a Service without endpoints is a REJECT in the filter table, not a nat rule.
    return dataplane.entries_iptables(node_access.current().run(node, ["iptables-save"], timeout=RULES_DUMP_TIMEOUT_S), ip, port)


def _nft_table(node: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(node_access.current().run(
        node, ["nft", "-j", "list", "table", "ip", "kube-proxy"], timeout=RULES_DUMP_TIMEOUT_S))
    return doc


def _ipvs_entries(node: str, ip: str, port: int | None) -> list[str]:
    found = dataplane.entries_ipvs(node_access.current().run(node, ["ipvsadm", "-Ln"], timeout=RULES_DUMP_TIMEOUT_S), ip, port)
    if port is None:  # the ClusterIP bound on kube-ipvs0 (per address, not per port)
        found += dataplane.entries_ipvs_addresses(
            node_access.current().run(node, ["ip", "-o", "addr", "show", "dev", "kube-ipvs0"]), ip)
    return found


def _nat_save(node: str) -> str:
    return node_access.current().run(node, ["iptables-save", "-t", "nat"], timeout=RULES_DUMP_TIMEOUT_S)


IPTABLES = Proxier("iptables", _iptables_evidence, lambda node: dataplane.count_iptables(_nat_save(node)),
                   _iptables_entries, lambda node: dataplane.service_match_order(_nat_save(node)))
NFTABLES = Proxier("nftables", _nftables_evidence, lambda node: dataplane.count_nft(_nft_table(node)),
                   lambda node, ip, port: dataplane.entries_nft(_nft_table(node), ip, port))
IPVS = Proxier("ipvs", _ipvs_evidence, lambda node: dataplane.count_ipvs(
    node_access.current().run(node, ["ipvsadm", "-Ln"], timeout=RULES_DUMP_TIMEOUT_S)), _ipvs_entries)


class KubeProxyMode(ProxyMode):
    """kube-proxy with one proxier and, optionally, non-default KubeProxyConfiguration fields."""

    def __init__(self, value: str, proxier: Proxier, host_requirement: str, kernel_options: tuple[str, ...], *,
                 config: Mapping[str, Any] = MappingProxyType({}), modules: tuple[str, ...] = (),
                 module_of: Mapping[str, str] = MappingProxyType({}), loaded_marker: str | None = None,
                 in_test_command: bool = True) -> None:
        self.value = value
        self.in_test_command = in_test_command
        self.proxier = proxier
        self.host_requirement = host_requirement
        self.kernel_options = kernel_options
        self.config = config  # KubeProxyConfiguration fields beyond proxylab's defaults
        self.modules = modules  # kernel modules to load on the host when the proxier is not loaded
        self.module_of = module_of  # CONFIG_* option -> module to dry-run load when the option is =m
        self.loaded_marker = loaded_marker  # a path that exists once the proxier's module is loaded

    def host_support(self) -> tuple[bool, str]:
        if self.loaded_marker and Path(self.loaded_marker).exists():
            return True, f"{self.modules[0]} loaded"
        return kernel.options_support(self.value, self.kernel_options, self.module_of)

    def prepare_host(self) -> None:
        if self.modules and not (self.loaded_marker and Path(self.loaded_marker).exists()):
            kernel.load_modules(self.modules)

    def kind_settings(self) -> KindSettings:
        return KindSettings(kube_proxy_mode=self.proxier.name, kube_proxy_config=self.config)

    def install(self, ctx: InstallContext) -> dict[str, Any]:
        """kind started kube-proxy; pod networking is proxylab's CNI."""
        cni.configure(ctx.nodes)
        return {"kube_proxy_config": dict(self.config)} if self.config else {}

    def verify(self, kubeconfig: Path, nodes: list[str]) -> dict[str, Any]:
        """kube-proxy ready, it reports this proxier on every node, the proxier's rules exist and, for
        a mode with settings, kube-proxy's /configz shows them (a file value it defaulted away fails)."""
        api = kube.api_client(kubeconfig)
        wait_for(lambda: kube.daemonset_ready(api, "kube-system", "kube-proxy"), timeout=PROXY_READY_TIMEOUT_S,
                 what="kube-proxy ready", interval=2)
        problems = []
        for node in nodes:
            reported = proxy_mode_of(node)
            if reported != self.proxier.name:
                problems.append(f"{node}: kube-proxy reports mode {reported!r}")
                continue
            ok, evidence = self.wait_for_evidence(node)
            if not ok:
                problems.append(f"{node}: {evidence}")
            elif self.config:
                problems += [f"{node}: {m}" for m in config_mismatches(self.config, configz_of(node))]
        if problems:
            raise ClusterError(f"proxy mode {self.value} is not in effect: " + "; ".join(problems))
        return {"kube_proxy_config_verified_on": list(nodes)} if self.config else {}

    def wait_for_evidence(self, node: str) -> tuple[bool, str]:
        """Poll for the proxier's rules for up to 60 s (its first sync); the last evidence wins."""
        last: tuple[bool, str] = (False, "not checked")

        def check() -> tuple[bool, str]:
            nonlocal last
            last = self.proxier.evidence(node)
            return last

        try:
            wait_for(check, timeout=60, what=f"{self.value} rules on {node}", interval=2)
        except WaitTimeout:
            pass
        return last

    def observer(self) -> ObserverSpec:
        return ObserverSpec("kube-proxy", KUBE_PROXY_METRICS_PORT, HISTOGRAMS)

    def proxy_version(self, pins: Pins) -> str:
        return f"kube-proxy {pins.kubernetes}"

    def dataplane_counts(self, node: str, api: Any) -> dict[str, int]:
        return self.proxier.counts(node)

    def dataplane_entries(self, node: str, api: Any, ip: str, port: int | None = None) -> list[str]:
        return self.proxier.entries(node, ip, port)

    def match_order(self, node: str) -> list[str] | None:
        return self.proxier.match_order(node) if self.proxier.match_order else None

    def proxy_pods(self) -> ProxyPods:
        return KUBE_PROXY_PODS

    def switch_refusal(self, target: ProxyMode) -> str | None:
        """kube-proxy can change proxier in place; not to a replacement (pod networking would have
        to be reinstalled) and not from or to a configured variant (its settings would have to be
        merged into kind's KubeProxyConfiguration, which this does not do)."""
        if not isinstance(target, KubeProxyMode):
            return (f"{target.value} does not run kube-proxy (its CNI is {target.cni}): switching means "
                    f"reinstalling pod networking; create a cluster with `proxylab cluster up --mode {target.value}`")
        for mode in (self, target):
            if mode.config:
                return (f"{mode.value} is kube-proxy with extra settings ({dict(mode.config)}); only plain "
                        f"proxier changes are switched in place; create a cluster with "
                        f"`proxylab cluster up --mode {target.value}`")
        return None

    def reconfigure_proxy(self, api: Any, target: ProxyMode) -> None:
        """Set ``mode:`` in kube-proxy's ConfigMap (config.conf) to the target's proxier."""
        if not isinstance(target, KubeProxyMode) or self.switch_refusal(target):
            raise ClusterError(self.switch_refusal(target) or f"cannot switch to {target.value}")
        from kubernetes import client

        core = client.CoreV1Api(api)
        cm = core.read_namespaced_config_map(KUBE_PROXY_CONFIGMAP, KUBE_PROXY_PODS.namespace)
        data = dict(cm.data or {})
        if CONFIG_KEY not in data:
            raise ClusterError(f"ConfigMap {KUBE_PROXY_PODS.namespace}/{KUBE_PROXY_CONFIGMAP} has no {CONFIG_KEY}; "
                               "is this a cluster proxylab created?")
        data[CONFIG_KEY] = set_proxier(data[CONFIG_KEY], target.proxier.name)
        core.patch_namespaced_config_map(KUBE_PROXY_CONFIGMAP, KUBE_PROXY_PODS.namespace, {"data": data})

    def rules_present(self, node: str) -> tuple[bool, str]:
        return self.proxier.evidence(node)

    def synced_at(self, node: str, ready_at: float, since: float) -> float | None:
        """kube-proxy's own ``kubeproxy_sync_proxy_rules_last_timestamp_seconds``: a new process
        exports 0 until its first full sync (programmed from the API's whole state)."""
        last = last_sync_of(node)
        return last if last is not None and last > since else None


def configz_of(node: str) -> dict[str, Any]:
    """The configuration kube-proxy on ``node`` runs with, after its defaulting (``/configz``)."""
    text = node_access.current().run(node, ["curl", "-s", "--max-time", "5",
                                      f"http://127.0.0.1:{KUBE_PROXY_METRICS_PORT}/configz"])
    try:
        doc: dict[str, Any] = json.loads(text)
    except ValueError:
        raise ClusterError(f"kube-proxy on {node} answered /configz with {text[:120]!r}, not JSON") from None
    return doc


def _leaves(doc: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(doc, Mapping):
        return [leaf for key, value in doc.items() for leaf in _leaves(value, (*path, str(key)))]
    return [(path, doc)]


def config_mismatches(config: Mapping[str, Any], configz: Mapping[str, Any]) -> list[str]:
    """Each field of ``config`` that kube-proxy's ``/configz`` does not show with the configured value.

    /configz serialises kube-proxy's internal config type, whose layout is not a stable API (in
    1.34 ``iptables.minSyncPeriod`` of the v1alpha1 file is a top-level ``MinSyncPeriod`` there),
    so a field is matched by its last name, case-insensitively, anywhere in the document."""
    effective: dict[str, list[Any]] = {}
    for path, value in _leaves(configz):
        effective.setdefault(path[-1].lower(), []).append(value)
    problems = []
    for path, wanted in _leaves(config):
        found = effective.get(path[-1].lower(), [])
        if wanted not in found and str(wanted) not in [str(v) for v in found]:
            problems.append(f"kube-proxy runs with {'.'.join(path)} = {found[0] if found else 'nothing'}, "
                            f"not {wanted!r} as configured")
    return problems


KUBE_PROXY_CONFIGMAP = "kube-proxy"
CONFIG_KEY = "config.conf"
_MODE_LINE = re.compile(r"^mode:[^\n]*$", re.MULTILINE)


def set_proxier(config_conf: str, proxier: str) -> str:
    """kube-proxy's KubeProxyConfiguration text with its top-level ``mode:`` set to ``proxier``
    (pure; the rest of the text, comments and layout included, is left as it is)."""
    if not re.fullmatch(r"[a-z]+", proxier):
        raise ValueError(f"not a kube-proxy mode: {proxier!r}")
    found = _MODE_LINE.findall(config_conf)
    if len(found) > 1:
        raise ClusterError(f"kube-proxy's {CONFIG_KEY} has {len(found)} top-level mode: lines; refusing to edit it")
    if found:
        return _MODE_LINE.sub(f"mode: {proxier}", config_conf)
    return config_conf.rstrip("\n") + f"\nmode: {proxier}\n"


KUBE_PROXY_PODS = ProxyPods("kube-system", "kube-proxy", "k8s-app=kube-proxy")
LAST_SYNC_METRIC = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"


def last_sync_of(node: str) -> float | None:
    """When kube-proxy on ``node`` last synced its rules (epoch s; 0 before its first), None when
    its metrics endpoint does not answer (e.g. while it restarts)."""
    res = node_access.current().call(node, ["curl", "-s", "--max-time", "3",
                                      f"http://127.0.0.1:{KUBE_PROXY_METRICS_PORT}/metrics"])
    return parse_last_sync(res.stdout) if res.returncode == 0 else None


def parse_last_sync(metrics_text: str) -> float | None:
    """``kubeproxy_sync_proxy_rules_last_timestamp_seconds`` from a Prometheus text page (pure):
    the oldest over its series (one per IP family, each proxier syncs on its own), None if absent."""
    values = []
    for line in metrics_text.splitlines():
        if line.startswith(LAST_SYNC_METRIC + " ") or line.startswith(LAST_SYNC_METRIC + "{"):
            try:
                values.append(float(line.rsplit(" ", 1)[1]))
            except ValueError:
                return None
    return min(values) if values else None


def proxy_mode_of(node: str) -> str:
    """What kube-proxy on ``node`` reports at /proxyMode (its own answer, not our config)."""
    res = node_access.current().call(node, ["curl", "-s", "--max-time", "5",
                                      f"http://127.0.0.1:{KUBE_PROXY_METRICS_PORT}/proxyMode"])
    return res.stdout.strip() if res.returncode == 0 else f"unreachable ({res.stdout.strip()[:80]})"


IPTABLES_MODE = register(KubeProxyMode(
    "iptables", IPTABLES, "iptables (legacy or nf_tables backend), conntrack, xt_statistic",
    ("CONFIG_NETFILTER_XT_MATCH_STATISTIC", "CONFIG_NF_CONNTRACK", "CONFIG_NF_NAT")))
register(KubeProxyMode(
    "nftables", NFTABLES, "nftables with nat, ct, numgen, fib (kernel >= 5.13)",
    ("CONFIG_NF_TABLES", "CONFIG_NFT_NUMGEN", "CONFIG_NFT_CT", "CONFIG_NFT_NAT")))
register(KubeProxyMode(
    "ipvs", IPVS, "IPVS in the kernel (ip_vs, ip_vs_rr, ...), ipset", ("CONFIG_IP_VS",),
    modules=("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"), module_of={"CONFIG_IP_VS": "ip_vs"},
    loaded_marker="/proc/net/ip_vs"))
register(KubeProxyMode(
    "iptables-minsync0", IPTABLES, IPTABLES_MODE.host_requirement, IPTABLES_MODE.kernel_options,
    config={"iptables": {"minSyncPeriod": "1ns"}},  # see the module docstring
    in_test_command=False))  # an iptables variant: its difference is a performance one, measured nightly
