"""The sweep's memory check (proxylab/perf/memory.py)."""

from __future__ import annotations

from pathlib import Path

from proxylab.perf import memory


def test_a_sweep_that_fits_is_not_refused() -> None:
    assert memory.refusal(30_000, 20_000.0) is None


def test_a_sweep_larger_than_memory_is_refused_with_the_figures_and_the_largest_that_fits() -> None:
    why = memory.refusal(50_000, 2_000.0)
    assert why is not None
    assert "50,000 Services" in why and "2,000 MiB" in why and "--perf-services-sweep" in why
    most = int(why.split("at most ")[1].split()[0].replace(",", ""))
    assert memory.refusal(most, 2_000.0) is None and memory.refusal(most + 100, 2_000.0) is not None


def test_unknown_memory_does_not_refuse(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1000 kB\n")
    assert memory.available_mib(meminfo) is None
    assert memory.available_mib(tmp_path / "absent") is None
    assert memory.refusal(50_000, None) is None


def test_memavailable_is_read_in_mib(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 4194304 kB\nMemAvailable: 2097152 kB\n")
    assert memory.available_mib(meminfo) == 2048.0
