"""The proxy modes proxylab compares, with every per-mode fact in one place."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import UnknownMode


class ProxyMode(enum.StrEnum):
    IPTABLES = "iptables"
    NFTABLES = "nftables"
    IPVS = "ipvs"
    EBPF = "ebpf"

    @classmethod
    def parse(cls, name: str) -> ProxyMode:
        try:
            return cls(name.strip().lower())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise UnknownMode(f"unknown proxy mode {name!r}; valid modes: {valid}") from None

    @property
    def facts(self) -> ModeFacts:
        return MODE_FACTS[self]


@dataclass(frozen=True)
class ModeFacts:
    """What differs between modes: kind settings, how to verify, what the host must have."""

    kube_proxy_mode: str  # kind's networking.kubeProxyMode
    uses_kube_proxy: bool
    host_requirement: str  # human sentence for README/doctor
    kernel_options: tuple[str, ...]  # CONFIG_* that must be y (built in; modules cannot load here)
    implemented: bool  # False until the issue that brings the mode lands
    # The mode's CNI enforces NetworkPolicy (Cilium does; proxylab's own ptp CNI enforces none).
    cni_enforces_network_policy: bool = False
    cni: str = "proxylab ptp + host-local (proxylab/cni.py)"


MODE_FACTS: dict[ProxyMode, ModeFacts] = {
    ProxyMode.IPTABLES: ModeFacts(
        kube_proxy_mode="iptables",
        uses_kube_proxy=True,
        host_requirement="iptables (legacy or nf_tables backend), conntrack, xt_statistic",
        kernel_options=("CONFIG_NETFILTER_XT_MATCH_STATISTIC", "CONFIG_NF_CONNTRACK", "CONFIG_NF_NAT"),
        implemented=True,
    ),
    ProxyMode.NFTABLES: ModeFacts(
        kube_proxy_mode="nftables",
        uses_kube_proxy=True,
        host_requirement="nftables with nat, ct, numgen, fib (kernel >= 5.13)",
        kernel_options=("CONFIG_NF_TABLES", "CONFIG_NFT_NUMGEN", "CONFIG_NFT_CT", "CONFIG_NFT_NAT"),
        implemented=True,
    ),
    ProxyMode.IPVS: ModeFacts(
        kube_proxy_mode="ipvs",
        uses_kube_proxy=True,
        host_requirement="IPVS in the kernel (ip_vs, ip_vs_rr, ...), ipset",
        kernel_options=("CONFIG_IP_VS",),
        implemented=True,
    ),
    ProxyMode.EBPF: ModeFacts(
        kube_proxy_mode="none",
        uses_kube_proxy=False,
        host_requirement="bpf syscall + BTF, cgroup BPF, clsact (Cilium kube-proxy replacement)",
        kernel_options=("CONFIG_BPF_SYSCALL", "CONFIG_DEBUG_INFO_BTF", "CONFIG_CGROUP_BPF", "CONFIG_NET_CLS_BPF"),
        implemented=True,
        cni_enforces_network_policy=True,
        cni="Cilium (proxylab/cilium.py)",
    ),
}
