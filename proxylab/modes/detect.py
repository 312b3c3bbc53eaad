"""Which proxy mode an existing cluster runs, from what its configuration says (pure; unit-tested).

Here, inside proxylab/modes/, because it names modes: kube-proxy's ``mode:`` in ConfigMap
kube-system/kube-proxy (or the DaemonSet's ``--proxy-mode`` flag, which overrides it), and Cilium's
``kube-proxy-replacement`` in kube-system/cilium-config (true: Cilium's eBPF handles Services).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

DEFAULT_MODE = "iptables"  # the session's mode when none is named and no cluster is detected
UNKNOWN = "unknown"
KUBE_PROXY_MODES = ("iptables", "nftables", "ipvs")  # what kube-proxy's `mode:` names (Linux)
CILIUM_REPLACING = ("true", "strict")  # kube-proxy-replacement values where Cilium does the Services


@dataclass(frozen=True)
class Detection:
    """The proxy mode a cluster runs as far as its configuration says, and why we think so."""

    mode: str  # a ProxyMode value, or "unknown"
    evidence: list[str]


def decide_mode(kube_proxy_conf: str | None, kube_proxy_ds: dict[str, Any] | None,
                cilium_config: dict[str, str] | None) -> Detection:
    """The proxy mode from what the cluster says (pure; unit-tested).

    ``kube_proxy_conf``: config.conf of ConfigMap kube-system/kube-proxy (None: no such ConfigMap);
    ``kube_proxy_ds``: the kube-proxy DaemonSet as a dict (None: none runs);
    ``cilium_config``: data of ConfigMap kube-system/cilium-config (None: no Cilium)."""
    evidence: list[str] = []
    kpr = (cilium_config or {}).get("kube-proxy-replacement")
    if cilium_config is not None:
        evidence.append(f"kube-system/cilium-config kube-proxy-replacement={kpr!r}")
    if kpr is not None and kpr.strip().lower() in CILIUM_REPLACING:
        if kube_proxy_ds is not None:
            evidence.append("a kube-proxy DaemonSet runs too (Cilium's eBPF Service handling takes precedence)")
        return Detection("ebpf", evidence)
    flag = _proxy_mode_flag(kube_proxy_ds) if kube_proxy_ds is not None else None
    conf_mode = _conf_mode(kube_proxy_conf) if kube_proxy_conf is not None else None
    if kube_proxy_conf is not None:
        evidence.append(f"kube-system/kube-proxy config.conf mode: {conf_mode!r}")
    if flag is not None:
        evidence.append(f"kube-proxy DaemonSet flag --proxy-mode={flag}")
    if kube_proxy_ds is None:
        evidence.append("no kube-proxy DaemonSet in kube-system")
        return Detection(UNKNOWN, evidence)
    mode = flag if flag is not None else conf_mode
    if mode is None:
        evidence.append("the kube-proxy DaemonSet names no mode and there is no kube-proxy ConfigMap")
        return Detection(UNKNOWN, evidence)
    if mode == "":
        evidence.append("an empty mode is kube-proxy's Linux default, iptables")
        return Detection("iptables", evidence)
    return Detection(mode, evidence) if mode in KUBE_PROXY_MODES else Detection(UNKNOWN, evidence)


def _conf_mode(text: str) -> str | None:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict):
        return None
    value = doc.get("mode")
    return "" if value is None else str(value).strip()


def _proxy_mode_flag(ds: dict[str, Any]) -> str | None:
    """``--proxy-mode`` of the DaemonSet's kube-proxy container (it overrides the config file)."""
    containers = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    for container in containers:
        argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
        for i, arg in enumerate(argv):
            if arg.startswith("--proxy-mode="):
                return arg.split("=", 1)[1].strip()
            if arg == "--proxy-mode" and i + 1 < len(argv):
                return argv[i + 1].strip()
    return None
