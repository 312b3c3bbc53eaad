"""Rendering the kind cluster config for a mode (pure: unit-tested without a cluster)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import yaml

from .constants import KUBE_PROXY_METRICS_PORT, POD_CIDR, SERVICE_CIDR
from .modes import ProxyMode
from .versions import Pins

# The controller manager's API client rate (requests/s; burst twice that). Upstream's default of 20
# makes the EndpointSlice controller, not the proxy, the bottleneck of a Services sweep.
CONTROLLER_MANAGER_QPS = 100
KIND_KUBEADM_V1BETA4_FROM = 36  # kind v0.33 writes kubeadm v1beta4 from Kubernetes 1.36 on, v1beta3 before

_env = jinja2.Environment(  # noqa: S701 - renders YAML, not HTML
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def kube_proxy_fields(config: Mapping[str, Any]) -> str:
    """A mode's extra KubeProxyConfiguration fields as YAML lines for the template's patch, which is
    a block scalar indented by two spaces ("" when there are none)."""
    if not config:
        return ""
    text = yaml.safe_dump(dict(config), sort_keys=True, default_flow_style=False)
    return "".join(f"\n  {line}" for line in text.splitlines())


def render(name: str, mode: ProxyMode, workers: int, pins: Pins) -> str:
    if workers < 0:
        raise ValueError("workers must be >= 0")
    settings = mode.kind_settings()
    text = _env.get_template("kind-config.yaml.j2").render(
        name=name, mode=mode.value, kube_proxy_mode=settings.kube_proxy_mode, workers=workers,
        kube_proxy_metrics_port=KUBE_PROXY_METRICS_PORT, kube_proxy_fields=kube_proxy_fields(settings.kube_proxy_config),
        pod_cidr=POD_CIDR, service_cidr=SERVICE_CIDR, coredns_tag=pins.coredns_image_tag,
        etcd_tag=pins.etcd_image_tag, controller_manager_qps=CONTROLLER_MANAGER_QPS,
        kubeadm_v1beta4=pins.kubernetes_minor >= KIND_KUBEADM_V1BETA4_FROM)
    yaml.safe_load(text)  # a template error must never reach kind
    return text
