"""CPU and memory of a container from two ``crictl stats -o json`` samples (pure).

CPU is the cgroup's cumulative usage (``usageCoreNanoSeconds``): the average over an interval is
``Δusage / Δtimestamp`` in cores, reported in millicores. Memory is the working set (what the
kubelet evicts on), reported in MiB at each sample.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ContainerSample:
    pod: str
    container: str
    cpu_ns: int
    timestamp_ns: int
    working_set_bytes: int


def parse_crictl_stats(doc: dict[str, Any], container: str | None = None) -> list[ContainerSample]:
    """Samples from crictl's JSON (``{"stats": [...]}``), optionally only containers named ``container``."""
    out = []
    for s in doc.get("stats") or []:
        attrs = s.get("attributes") or {}
        name = (attrs.get("metadata") or {}).get("name", "")
        if container and name != container:
            continue
        cpu, mem = s.get("cpu") or {}, s.get("memory") or {}
        out.append(ContainerSample(
            pod=(attrs.get("labels") or {}).get("io.kubernetes.pod.name", ""), container=name,
            cpu_ns=int((cpu.get("usageCoreNanoSeconds") or {}).get("value", 0)),
            timestamp_ns=int(cpu.get("timestamp", 0)),
            working_set_bytes=int((mem.get("workingSetBytes") or {}).get("value", 0))))
    return out


@dataclass(frozen=True)
class Usage:
    pod: str
    cpu_millicores: float
    memory_mib: float  # max of the two samples
    seconds: float


def usage(before: Iterable[ContainerSample], after: Iterable[ContainerSample]) -> list[Usage]:
    """Average CPU and peak sampled memory per pod between two sample sets (pods in both only).

    A container that restarted in between (usage went down) is left out rather than reported as
    negative.
    """
    first = {s.pod: s for s in before}
    out = []
    for s in after:
        b = first.get(s.pod)
        if b is None or s.timestamp_ns <= b.timestamp_ns or s.cpu_ns < b.cpu_ns:
            continue
        dt = (s.timestamp_ns - b.timestamp_ns) / 1e9
        out.append(Usage(s.pod, round((s.cpu_ns - b.cpu_ns) / 1e6 / dt, 1),
                         round(max(s.working_set_bytes, b.working_set_bytes) / 2**20, 1), round(dt, 2)))
    return sorted(out, key=lambda u: u.pod)


def totals(usages: Iterable[Usage]) -> dict[str, float]:
    """Cluster-wide: summed CPU of every proxy pod, and summed memory."""
    us = list(usages)
    return {"cpu_millicores": round(sum(u.cpu_millicores for u in us), 1),
            "memory_mib": round(sum(u.memory_mib for u in us), 1)}
