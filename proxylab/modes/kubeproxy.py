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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .. import cni, docker, kernel, kube
from ..constants import KUBE_PROXY_METRICS_PORT
from ..errors import ClusterError, WaitTimeout
from ..perf import dataplane
from ..shell import run
from ..versions import Pins
from ..wait import wait_for
from .base import Histograms, InstallContext, KindSettings, ObserverSpec, ProxyMode, register

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


def _iptables_evidence(node: str) -> tuple[bool, str]:
    res = run(["docker", "exec", node, "sh", "-c", "iptables-save -t nat | grep -c '^-A KUBE-SERVICES'"], check=False)
    n = int(res.stdout.strip() or 0) if res.stdout.strip().isdigit() else 0
    return n > 0, f"{n} KUBE-SERVICES rules in the nat table"


def _nftables_evidence(node: str) -> tuple[bool, str]:
    res = run(["docker", "exec", node, "nft", "list", "chain", "ip", "kube-proxy", "services"], check=False)
    return res.returncode == 0, "nft table ip kube-proxy" + (" present" if res.returncode == 0 else " missing")


def _ipvs_evidence(node: str) -> tuple[bool, str]:
    res = run(["docker", "exec", node, "sh", "-c", "ip link show kube-ipvs0"], check=False)
    return res.returncode == 0, "kube-ipvs0 " + ("present" if res.returncode == 0 else "missing")


def _iptables_entries(node: str, ip: str, port: int | None) -> list[str]:
    # Every table: a Service without endpoints is a REJECT in the filter table, not a nat rule.
    return dataplane.entries_iptables(docker.exec_output(node, "iptables-save", timeout=120), ip, port)


def _nft_table(node: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(docker.exec_output(node, "nft", "-j", "list", "table", "ip", "kube-proxy",
                                                        timeout=120))
    return doc


def _ipvs_entries(node: str, ip: str, port: int | None) -> list[str]:
    found = dataplane.entries_ipvs(docker.exec_output(node, "ipvsadm", "-Ln", timeout=120), ip, port)
    if port is None:  # the ClusterIP bound on kube-ipvs0 (per address, not per port)
        found += dataplane.entries_ipvs_addresses(
            docker.exec_output(node, "ip", "-o", "addr", "show", "dev", "kube-ipvs0"), ip)
    return found


IPTABLES = Proxier("iptables", _iptables_evidence, lambda node: dataplane.count_iptables(
    docker.exec_output(node, "iptables-save", "-t", "nat", timeout=120)), _iptables_entries)
NFTABLES = Proxier("nftables", _nftables_evidence, lambda node: dataplane.count_nft(_nft_table(node)),
                   lambda node, ip, port: dataplane.entries_nft(_nft_table(node), ip, port))
IPVS = Proxier("ipvs", _ipvs_evidence, lambda node: dataplane.count_ipvs(
    docker.exec_output(node, "ipvsadm", "-Ln", timeout=120)), _ipvs_entries)


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
        wait_for(lambda: kube.daemonset_ready(api, "kube-system", "kube-proxy"), timeout=180,
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


def configz_of(node: str) -> dict[str, Any]:
    """The configuration kube-proxy on ``node`` runs with, after its defaulting (``/configz``)."""
    text = docker.exec_output(node, "curl", "-s", "--max-time", "5",
                              f"http://127.0.0.1:{KUBE_PROXY_METRICS_PORT}/configz")
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


def proxy_mode_of(node: str) -> str:
    """What kube-proxy on ``node`` reports at /proxyMode (its own answer, not our config)."""
    res = run(["docker", "exec", node, "curl", "-s", "--max-time", "5",
               f"http://127.0.0.1:{KUBE_PROXY_METRICS_PORT}/proxyMode"], check=False)
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
