"""The traffic containment guard (see host-notes: "Network containment").

A packet from a pod to a ClusterIP that the proxy has not translated leaves the kind node
towards the docker bridge, the host, and the host's default route: off the machine. The guard
adds `unreachable` routes for every in-cluster range on the host, so such packets get an ICMP
unreachable at once instead. Routes carry a private protocol number, which is how proxylab
recognises (and later removes) its own routes and nobody else's.

Beyond the cluster's own ranges the guard covers every address a test is known to send to that
no proxy may translate: Kubernetes' upstream Services specs connect to an ExternalIP in the
RFC 5737 documentation range (203.0.113.250, or 2001:db8::cb00:71fa on IPv6) and create
Endpoints for 10.0.0.24/25. Where a proxy does not translate them, those SYNs would follow the
host's default route off the machine. IPv6 destinations get IPv6 unreachable routes.
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

# Addresses Kubernetes' e2e Services specs send to or program (test/e2e/network/service.go of the
# pinned version): the ExternalIP of "connect to a service via ExternalIP when the external IP is
# not assigned to a node" (203.0.113.250; 2001:db8::cb00:71fa on IPv6), the load-balancer status IP
# of the service status lifecycle (203.0.113.1) and the static Endpoints of the endpoint lifecycle
# (10.0.0.24, 10.0.0.25). Host routes, not the whole documentation range: on these machines the
# package proxy (proxy.golang.org, pypi.org, deb.debian.org) resolves to 203.0.113.80, and an
# unreachable route for 203.0.113.0/24 cut the image builds off (measured). IPv6 has no such use
# here, so the whole 2001:db8::/32 documentation prefix is guarded.
UPSTREAM_SPEC_CIDRS: tuple[str, ...] = ("203.0.113.250/32", "203.0.113.1/32", "10.0.0.24/32", "10.0.0.25/32",
                                        "2001:db8::/32")
GUARDED_CIDRS: tuple[str, ...] = (SERVICE_CIDR, POD_CIDR, *UPSTREAM_SPEC_CIDRS)


def _family(cidr: str) -> str:
    return "-6" if ipaddress.ip_network(cidr, strict=False).version == 6 else "-4"


def installed_routes() -> list[str]:
    """Destinations of the guard routes currently on the host (IPv4 and IPv6)."""
    found: list[str] = []
    for family in ("-4", "-6"):
        res = run(["ip", family, "route", "show", "type", "unreachable", "proto", ROUTE_PROTO], check=False)
        found += [_canonical(line.split()[1]) for line in res.stdout.splitlines() if line.strip()]
    return found


def _canonical(dest: str) -> str:
    """`ip route` prints a /32 host route without its prefix length; name it as declared."""
    return str(ipaddress.ip_network(dest, strict=False))


def install(cidrs: tuple[str, ...] = GUARDED_CIDRS) -> list[str]:
    """Idempotently add the unreachable routes; returns the CIDRs newly added."""
    present = set(installed_routes())
    added: list[str] = []
    for cidr in cidrs:
        if cidr in present:
            continue
        res = run(["ip", _family(cidr), "route", "add", "unreachable", cidr, "proto", ROUTE_PROTO], check=False)
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
        run(["ip", _family(cidr), "route", "del", "unreachable", cidr, "proto", ROUTE_PROTO], check=False)
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
    """Counts IPv4 or IPv6 packets to one destination leaving an interface, via an AF_PACKET socket.

    Used by the containment test to prove that nothing for a guarded address leaves the host.
    """

    interface: str
    destination: str
    seen: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        address = ipaddress.ip_address(self.destination)
        # Ethertype and where the destination address sits in an Ethernet frame, per IP version.
        self._ethertype, self._offset = (0x0800, 30) if address.version == 4 else (0x86DD, 38)
        self._dst = address.packed
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
            end = self._offset + len(self._dst)
            if (len(frame) >= end and struct.unpack("!H", frame[12:14])[0] == self._ethertype
                    and frame[self._offset:end] == self._dst):
                self.seen += 1

    def __enter__(self) -> PacketWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
