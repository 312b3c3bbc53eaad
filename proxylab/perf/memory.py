"""Does the host have the memory for a Services sweep? Refused up front, before any cluster or
Service is created, with the figures (pure apart from reading /proc/meminfo).

The per-Service figure is measured, not guessed: in the performance suite's default-profile sweep
on the development machine (`pytest suites/performance -m e2e --proxy-mode iptables`, results
`node_memory_mib` of test_sweep_step), the three kind node containers' memory (cgroup usage, page
cache included) grew from 5,579 MiB at 1,000 Services to 6,640 MiB at 10,000: 118 MiB per 1,000
Services, most of it the API server and etcd on the control plane (ebpf: 43 MiB per 1,000). The
check asks for that growth times a safety margin, since a sweep that exhausts the host's memory
takes the whole machine down with it rather than failing one test.
"""

from __future__ import annotations

from pathlib import Path

MIB_PER_1000_SERVICES = 118.0
MARGIN = 1.5


def needed_mib(services: int) -> float:
    """Memory a sweep to ``services`` Services needs on top of the running cluster, in MiB."""
    return services / 1000 * MIB_PER_1000_SERVICES * MARGIN


def available_mib(meminfo: Path = Path("/proc/meminfo")) -> float | None:
    """The host's MemAvailable in MiB (None where the kernel does not say)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def refusal(services: int, available: float | None) -> str | None:
    """Why a sweep to ``services`` cannot run with ``available`` MiB free, or None when it can."""
    if available is None:
        return None
    need = needed_mib(services)
    if need <= available:
        return None
    most = int(available / (MIB_PER_1000_SERVICES * MARGIN) * 1000)
    return (f"a sweep to {services:,} Services needs about {need:,.0f} MiB on this host "
            f"({MIB_PER_1000_SERVICES:g} MiB per 1,000 Services measured, x{MARGIN:g} margin) but only "
            f"{available:,.0f} MiB is available; ask for at most {most:,} (--perf-services-sweep) or free memory")
