"""Sizes of the performance suite: named profiles, overridden option by option (pure).

``default`` is what `proxylab run` uses (on 2 cores its data path and sweep to 10,000 Services
took 13-15 min per mode); ``short`` is the CI version (a few minutes); ``nightly`` is for bigger
runners. Every field is a pytest option.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from ..constants import MAX_LOAD_WORKERS

MAX_SERVICES = 50_000


@dataclass(frozen=True)
class PerfConfig:
    repeats: int = 3  # of every scenario
    duration_s: int = 10  # of each load run (scenarios 1-3)
    users: int = 10  # locust users of each load run
    sweep: tuple[int, ...] = (1000, 5000, 10_000)  # numbers of Services for scenarios 5-6
    fast_duration_s: int = 5  # of each wrk/vegeta run (the data-path figures)
    failover_window_s: float = 14.0  # observed after each fault
    failover_interval_ms: int = 10  # the probe's steady rate: one new connection per interval
    first_packet_samples: int = 1000  # connects per K for the first-packet latency
    load_workers: int = 1  # locust workers of each throughput run, one per node when > 1

    def __post_init__(self) -> None:
        if not 1 <= self.repeats <= 50:
            raise ValueError(f"--perf-repeats must be 1..50, got {self.repeats}")
        if not 2 <= self.duration_s <= 600:
            raise ValueError(f"--perf-duration must be 2..600 s, got {self.duration_s}")
        if not 1 <= self.users <= 1000:
            raise ValueError(f"--perf-users must be 1..1000, got {self.users}")
        if not self.sweep or any(not 1 <= k <= MAX_SERVICES for k in self.sweep) or list(self.sweep) != sorted(
                set(self.sweep)):
            raise ValueError(f"--perf-services-sweep must be increasing numbers in 1..{MAX_SERVICES}, got {self.sweep}")
        if not 5 <= self.failover_window_s <= 120:
            raise ValueError(f"--perf-failover-window must be 5..120 s, got {self.failover_window_s}")
        if not 5 <= self.failover_interval_ms <= 1000:
            raise ValueError(f"--perf-failover-interval must be 5..1000 ms, got {self.failover_interval_ms}")
        if not 2 <= self.fast_duration_s <= 120:
            raise ValueError(f"--perf-fast-duration must be 2..120 s, got {self.fast_duration_s}")
        if not 10 <= self.first_packet_samples <= 10_000:
            raise ValueError(f"--perf-first-packet-samples must be 10..10000, got {self.first_packet_samples}")
        if not 1 <= self.load_workers <= MAX_LOAD_WORKERS:
            raise ValueError(f"--load-workers must be 1..{MAX_LOAD_WORKERS} (one per node), got {self.load_workers}")

    def to_json(self) -> dict[str, Any]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}


PROFILES: dict[str, PerfConfig] = {
    "default": PerfConfig(),
    "short": PerfConfig(repeats=2, duration_s=5, users=5, sweep=(100, 1000), fast_duration_s=3, failover_window_s=10),
    "nightly": PerfConfig(repeats=5, duration_s=30, users=20, sweep=(1000, 5000, 10_000, 30_000), fast_duration_s=10,
                          failover_window_s=20, first_packet_samples=2000),
}


def parse_sweep(text: str) -> tuple[int, ...]:
    """``"100,1000,3000"`` -> (100, 1000, 3000): sorted, duplicates dropped."""
    try:
        values = {int(p) for p in text.replace(" ", "").split(",") if p}
    except ValueError:
        raise ValueError(f"--perf-services-sweep must be comma-separated integers, got {text!r}") from None
    return tuple(sorted(values))


def resolve(profile: str, overrides: dict[str, Any]) -> PerfConfig:
    """The profile's sizes with every override that is not None applied (and validated)."""
    if profile not in PROFILES:
        raise ValueError(f"--perf-profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(given.get("sweep"), str):
        given["sweep"] = parse_sweep(given["sweep"])
    return replace(PROFILES[profile], **given)
