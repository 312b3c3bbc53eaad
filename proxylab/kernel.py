"""What the running kernel offers, read from its config (built-in vs module vs absent)."""

from __future__ import annotations

import gzip
import platform
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from types import MappingProxyType

from .shell import run


@cache
def kernel_config() -> dict[str, str]:
    """CONFIG_* -> 'y' | 'm' from /proc/config.gz or /boot/config-<release>; {} if unreadable."""
    text = ""
    proc = Path("/proc/config.gz")
    boot = Path(f"/boot/config-{platform.release()}")
    if proc.exists():
        text = gzip.decompress(proc.read_bytes()).decode(errors="replace")
    elif boot.exists():
        text = boot.read_text(errors="replace")
    config: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, value = line.split("=", 1)
            config[key] = value
    return config


def modules_loadable() -> bool:
    return "nomodule" not in Path("/proc/cmdline").read_text().split()


def option_state(option: str) -> str:
    """'y' (built in), 'm' (module), 'n' (absent) or '?' (config unreadable)."""
    config = kernel_config()
    if not config:
        return "?"
    return config.get(option, "n")


def options_support(what: str, options: Sequence[str],
                    module_of: Mapping[str, str] = MappingProxyType({})) -> tuple[bool, str]:
    """Whether the kernel has every CONFIG_* in ``options`` (built in, or a module that can load),
    with the reason when it does not. ``module_of``: option -> module to dry-run `modprobe -n` for."""
    missing: list[str] = []
    for opt in options:
        state = option_state(opt)
        if state == "y" or state == "?":
            continue
        if state == "m" and modules_loadable():
            mod = module_of.get(opt)
            if mod and run(["modprobe", "-n", mod], check=False).returncode != 0:
                missing.append(f"{opt}=m but `modprobe -n {mod}` fails")
            continue
        if state == "m":
            missing.append(f"{opt}=m but the kernel was booted with `nomodule`")
        else:
            missing.append(f"{opt} is not set")
    if missing:
        return False, f"kernel {platform.release()} lacks {what} support: " + "; ".join(missing)
    return True, "kernel support present"


def load_modules(modules: Sequence[str]) -> None:
    """modprobe each of ``modules`` (best effort) where the kernel loads modules at all."""
    if modules_loadable():
        for mod in modules:
            run(["modprobe", mod], check=False)


def cgroup_version() -> str:
    """'v2' (unified), 'hybrid' (v1 controllers + cgroup2 at /sys/fs/cgroup/unified) or 'v1'."""
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return "v2"
    if Path("/sys/fs/cgroup/unified/cgroup.controllers").exists():
        return "hybrid"
    return "v1"
