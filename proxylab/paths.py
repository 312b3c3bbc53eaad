"""Where proxylab keeps things on the host. Every location can be overridden by environment."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Build cache (Go wrapper modules, binaries, rootfs, step stamps). Survives between runs."""
    return Path(os.environ.get("PROXYLAB_CACHE", Path.home() / ".cache" / "proxylab"))


def state_dir() -> Path:
    """Per-cluster state (kubeconfigs, kind configs). Removed with the cluster."""
    return Path(os.environ.get("PROXYLAB_STATE", Path.home() / ".local" / "state" / "proxylab"))


def bin_dir() -> Path:
    """Binaries proxylab built for the host itself (the kind CLI)."""
    return cache_dir() / "bin"


def kind_binary() -> Path:
    return bin_dir() / "kind"
