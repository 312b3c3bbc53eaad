"""What else used the CPU during a measurement, seen from the host (the harness's side).

On kind every node is a container on this host, so the machine's busy time splits into the
cluster (the node containers' cgroups: kubelet, proxy, pods) and everything outside it (other
builds, other jobs, the harness itself). A large outside share means the run competed for the
CPU: its figures are not the data path's.

It also counts the packets the host's conntrack dropped: traffic between kind nodes crosses the
host's Docker bridge and is tracked there too (proxylab/sysctl.py); when that table is full the
host drops new connections, and a run taken then measures the host, not the proxy.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .. import docker

_STAT = Path("/proc/stat")
_CONNTRACK_STAT = Path("/proc/net/stat/nf_conntrack")
_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True)
class Sample:
    t: float
    host_busy_s: float  # machine-wide non-idle CPU seconds (summed over CPUs)
    cluster_s: float | None  # the node containers' cumulative CPU seconds; None when unreadable
    conntrack_drops: int | None = None  # the host conntrack's dropped packets so far; None when unreadable


def conntrack_drops(text: str | None = None) -> int | None:
    """Packets the host's conntrack dropped (table full), summed over CPUs, from
    /proc/net/stat/nf_conntrack (a header line, then one line of hex counters per CPU)."""
    if text is None:
        if not _CONNTRACK_STAT.exists():
            return None
        text = _CONNTRACK_STAT.read_text()
    lines = text.split("\n")
    names = lines[0].split()
    if "drop" not in names:
        return None
    col = names.index("drop")
    return sum(int(line.split()[col], 16) for line in lines[1:] if len(line.split()) > col)


def _host_busy() -> float:
    parts = _STAT.read_text().splitlines()[0].split()[1:1 + len(_FIELDS)]
    tick = os.sysconf("SC_CLK_TCK")
    values = dict(zip(_FIELDS, (int(p) / tick for p in parts), strict=True))
    return sum(v for k, v in values.items() if k not in ("idle", "iowait"))


def _container_cpu_s(cid: str) -> float | None:
    """Cumulative CPU of a container's cgroup: cgroup v1 cpuacct (cgroupfs driver) or v2."""
    for path, scale in ((Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage"), 1e-9),
                        (Path(f"/sys/fs/cgroup/cpu,cpuacct/docker/{cid}/cpuacct.usage"), 1e-9)):
        if path.exists():
            return int(path.read_text()) * scale
    for path in (Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"),
                 Path(f"/sys/fs/cgroup/docker/{cid}/cpu.stat")):
        if path.exists():
            for line in path.read_text().splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) * 1e-6
    return None


@dataclass
class Sampler:
    """Samples the host and the given node containers (names, resolved to ids once)."""

    nodes: list[str]

    def __post_init__(self) -> None:
        self._ids = [docker.container_id(n) for n in self.nodes]

    def memory_mib(self) -> dict[str, float | None]:
        """Each node container's memory use (cgroup usage, page cache included), MiB."""
        out: dict[str, float | None] = {}
        for name, cid in zip(self.nodes, self._ids, strict=True):
            b = _container_memory_bytes(cid) if cid else None
            out[name] = None if b is None else round(b / 2**20, 1)
        return out

    def sample(self) -> Sample:
        parts = [_container_cpu_s(cid) for cid in self._ids if cid]
        cluster = None if not parts or any(p is None for p in parts) else sum(p for p in parts if p is not None)
        return Sample(time.monotonic(), _host_busy(), cluster, conntrack_drops())


def _container_memory_bytes(cid: str) -> int | None:
    for path in (Path(f"/sys/fs/cgroup/memory/docker/{cid}/memory.usage_in_bytes"),
                 Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.current"),
                 Path(f"/sys/fs/cgroup/docker/{cid}/memory.current")):
        if path.exists():
            return int(path.read_text())
    return None


def between(a: Sample, b: Sample) -> dict[str, float | None]:
    """Cores used over [a, b]: the whole machine, the cluster, and outside it (None when unknown),
    and the packets the host's conntrack dropped meanwhile."""
    dt = b.t - a.t
    drops = None if a.conntrack_drops is None or b.conntrack_drops is None else b.conntrack_drops - a.conntrack_drops
    if dt <= 0:
        return {"host_cores": None, "cluster_cores": None, "outside_cores": None, "seconds": dt,
                "host_conntrack_drops": drops}
    host = (b.host_busy_s - a.host_busy_s) / dt
    cluster = None if a.cluster_s is None or b.cluster_s is None else (b.cluster_s - a.cluster_s) / dt
    outside = None if cluster is None else max(host - cluster, 0.0)
    return {"host_cores": round(host, 3), "cluster_cores": None if cluster is None else round(cluster, 3),
            "outside_cores": None if outside is None else round(outside, 3), "seconds": round(dt, 2),
            "loadavg_1m": round(os.getloadavg()[0], 2), "host_conntrack_drops": drops}


def wait_quiet(sampler: Sampler, max_cores: float, window_s: float = 3.0,
               timeout_s: float = 240.0) -> dict[str, float | bool | None]:
    """Wait until the cluster used less than ``max_cores`` over a ``window_s`` window: after a bulk
    change the proxy, the controllers and the API server keep working for a while (kube-proxy
    nftables at 10,000 Services ran ``nft`` at 100 % of a core for minutes), and a measurement
    taken then measures that work. Returns how long it waited, the last window's use, and whether
    the cluster did get quiet before the timeout (the caller records it; never a silent pass)."""
    t0 = time.monotonic()
    while True:
        a = sampler.sample()
        time.sleep(window_s)
        cores = between(a, sampler.sample())["cluster_cores"]
        done = cores is None or cores < max_cores
        if done or time.monotonic() - t0 > timeout_s:
            quiet = cores is not None and cores < max_cores
            return {"waited_s": round(time.monotonic() - t0, 1), "cluster_cores": cores, "quiet": quiet}
