"""Rendering the kind cluster config for a mode (pure: unit-tested without a cluster)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import yaml

from .guard import POD_CIDR, SERVICE_CIDR
from .modes import ProxyMode
from .versions import Pins

_env = jinja2.Environment(  # noqa: S701 - renders YAML, not HTML
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render(name: str, mode: ProxyMode, workers: int, pins: Pins) -> str:
    if workers < 0:
        raise ValueError("workers must be >= 0")
    text = _env.get_template("kind-config.yaml.j2").render(
        name=name, mode=mode.value, kube_proxy_mode=mode.facts.kube_proxy_mode, workers=workers,
        pod_cidr=POD_CIDR, service_cidr=SERVICE_CIDR, coredns_tag=pins.coredns_image_tag,
        etcd_tag=pins.etcd_image_tag)
    yaml.safe_load(text)  # a template error must never reach kind
    return text
