"""A Debian base image made without any registry: debootstrap, then `docker import`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import BuildFailed
from ..hosttools import apt_install
from ..paths import cache_dir
from ..shell import run


def debian_mirror() -> str:
    """The host's own Debian mirror (deb822 or one-line sources), so the image matches the host."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                return parts[1]
    return "http://deb.debian.org/debian"


def build_base_image(suite: str, ref: str, label: str) -> None:
    """debootstrap --variant=minbase ``suite`` and import it as ``ref``."""
    apt_install("debootstrap")
    target = cache_dir() / "rootfs" / suite
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror()
    run(["debootstrap", "--variant=minbase", "--include=ca-certificates", suite, str(target), mirror],
        timeout=1800, hint=f"debootstrap of Debian {suite} from {mirror} failed; check the mirror")
    tar = subprocess.Popen(["tar", "-C", str(target), "-c", "."], stdout=subprocess.PIPE)
    try:
        res = subprocess.run(["docker", "import", "-c", f"LABEL {label}", "-c", "ENV LANG=C.UTF-8",
                              "-", ref], stdin=tar.stdout, capture_output=True, text=True)
    finally:
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait()
    if res.returncode != 0:
        raise BuildFailed(f"docker import of the {suite} rootfs failed: {res.stderr.strip()}")
    shutil.rmtree(target)
