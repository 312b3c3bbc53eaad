"""The proxy modes proxylab compares: one module per mode, all registered here.

``ProxyMode`` is the interface (:mod:`.base`); :func:`all_modes` lists the registered modes in
registration order, which is the order of `proxylab modes`, of a run and of the report's columns.
A new mode is a module that calls :func:`register`, named in ``MODE_MODULES`` (or, for kube-proxy
with other settings, one more ``register(KubeProxyMode(...))`` in :mod:`.kubeproxy`).
"""

from __future__ import annotations

import importlib

from ..errors import UnknownMode
from .base import InstallContext, KindSettings, ObserverSpec, OfflineImageContext, ProxyMode, all_modes, register

# Importing a mode module registers its modes, in this order: kube-proxy's, then the replacements.
MODE_MODULES = ("kubeproxy", "cilium")
for _module in MODE_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["InstallContext", "KindSettings", "ObserverSpec", "OfflineImageContext", "ProxyMode", "UnknownMode",
           "all_modes", "register"]
