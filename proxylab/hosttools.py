"""Small facts about and changes to the host that several layers need (the image builder, doctor,
`doctor --fix`): kept here so the image builder does not depend on the CLI's modules."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from functools import cache

from .shell import run, which

REGISTRY_PROBE_URL = "https://registry.k8s.io/v2/"


@cache
def registry_reachable() -> bool:
    """One HTTPS request to registry.k8s.io; any HTTP answer (401/404 too) means reachable.

    PROXYLAB_OFFLINE=1 skips the probe and answers False.
    """
    if os.environ.get("PROXYLAB_OFFLINE") == "1":
        return False
    try:
        urllib.request.urlopen(REGISTRY_PROBE_URL, timeout=4)
        return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def go_version() -> str | None:
    if not which("go"):
        return None
    m = re.search(r"go(\d+\.\d+(?:\.\d+)?)", run(["go", "version"], check=False).stdout)
    return m.group(1) if m else None


def apt_install(*packages: str) -> list[str]:
    """Install Debian packages that are missing; returns those it installed."""
    missing = [p for p in packages if run(["dpkg-query", "-W", "-f=${Status}", p], check=False).stdout
               != "install ok installed"]
    if not missing:
        return []
    run(["apt-get", "update", "-qq"], timeout=600, hint="check the host's Debian mirror")
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=1200,
        hint=f"could not install Debian packages {' '.join(missing)}; check apt sources")
    return missing
