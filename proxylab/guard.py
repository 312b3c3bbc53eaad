"""The traffic containment guard (see host-notes: "Network containment").

A packet from a pod to a ClusterIP that the proxy has not translated leaves the kind node
towards the docker bridge, the host, and the host's default route: off the machine. The guard
adds `unreachable` routes for every in-cluster range on the host, so such packets get an ICMP
unreachable at once instead. Routes carry a private protocol number, which is how proxylab
recognises (and later removes) its own routes and nobody else's.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time
from dataclasses import dataclass

from .constants import POD_CIDR, SERVICE_CIDR
from .errors import ContainmentError
from .shell import run

ROUTE_PROTO = "199"  # "proxylab" in /etc/iproute2/rt_protos terms; any unused number works

GUARDED_CIDRS: tuple[str, ...] = (SERVICE_CIDR, POD_CIDR)


def installed_routes() -> list[str]:
    """Destinations of the guard routes currently on the host."""
    res = run(["ip", "-4", "route", "show", "type", "unreachable", "proto", ROUTE_PROTO], check=False)
    return [line.split()[1] for line in res.stdout.splitlines() if line.strip()]


def install(cidrs: tuple[str, ...] = GUARDED_CIDRS) -> list[str]:
    """Idempotently add the unreachable routes; returns the CIDRs newly added."""
    present = set(installed_routes())
    added: list[str] = []
    for cidr in cidrs:
        if cidr in present:
            continue
        res = run(["ip", "route", "add", "unreachable", cidr, "proto", ROUTE_PROTO], check=False)
        if res.returncode != 0:
            raise ContainmentError(
                f"could not install containment route `unreachable {cidr}`: {res.stdout.strip()}. "
                "proxylab refuses to create a cluster without it; run as root (CAP_NET_ADMIN)."
            )
        added.append(cidr)
    missing = set(cidrs) - set(installed_routes())
    if missing:
        raise ContainmentError(f"containment routes missing after install: {sorted(missing)}")
    return added


def remove() -> list[str]:
    removed = []
    for cidr in installed_routes():
        run(["ip", "route", "del", "unreachable", cidr, "proto", ROUTE_PROTO], check=False)
        removed.append(cidr)
    return removed


def state() -> tuple[bool, str]:
    routes = installed_routes()
    missing = [c for c in GUARDED_CIDRS if c not in routes]
    if not missing:
        return True, "unreachable routes installed for " + ", ".join(GUARDED_CIDRS)
    return False, "not installed for " + ", ".join(missing) + " (installed automatically before a cluster is created)"


def default_interface() -> str:
    res = run(["ip", "-4", "route", "show", "default"], check=False)
    parts = res.stdout.split()
    return parts[parts.index("dev") + 1] if "dev" in parts else "eth0"


@dataclass
class PacketWatch:
    """Counts IPv4 packets to one destination leaving an interface, via an AF_PACKET socket.

    Used by the containment test to prove that nothing for a guarded address leaves the host.
    """

    interface: str
    destination: str
    seen: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._dst = ipaddress.IPv4Address(self.destination).packed
        # ETH_P_ALL: outgoing frames are only delivered to "all protocols" taps, not to ETH_P_IP ones.
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        self._sock.bind((self.interface, 0))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(frame) >= 34 and struct.unpack("!H", frame[12:14])[0] == 0x0800 and frame[30:34] == self._dst:
                self.seen += 1

    def __enter__(self) -> PacketWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
