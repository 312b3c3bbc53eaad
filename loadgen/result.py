"""Plain result objects of a load run, built from the master's raw JSON (pure, unit-tested)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .agent import lgstats

CPU_BOUND_PERCENT = 90.0  # a worker above this (of one core) limits the rate itself
CPU_BOUND_WINDOW = 3  # consecutive 1-s samples, so one busy second (spawning, GC) is not a verdict


@dataclass(frozen=True)
class Latency:
    """Milliseconds; None when nothing succeeded."""

    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    mean: float | None

    @classmethod
    def of(cls, hist: dict[int, int]) -> Latency:
        total = sum(hist.values())
        mean = sum(b * n for b, n in hist.items()) / total / 1000 if total else None
        return cls(p50=lgstats.percentile_ms(hist, 0.50), p95=lgstats.percentile_ms(hist, 0.95),
                   p99=lgstats.percentile_ms(hist, 0.99), max=max(hist) / 1000 if hist else None,
                   mean=round(mean, 3) if mean is not None else None)


@dataclass(frozen=True)
class Second:
    """One second of the run: ``t`` counts from the first second with a request."""

    t: int
    requests: int
    failures: dict[str, int]
    latency: Latency


@dataclass(frozen=True)
class WorkerCpu:
    """One locust worker: its CPU (% of one core, 1-s samples), where it ran and what it made."""

    worker: str
    samples: list[float]
    mean: float
    max: float
    bound: bool  # CPU_BOUND_WINDOW consecutive samples above CPU_BOUND_PERCENT
    node: str | None = None  # the node its pod ran on (None when not known)
    requests: int = 0  # requests it made (successful or not)

    def summary(self) -> dict[str, Any]:
        return {"worker": self.worker, "node": self.node, "requests": self.requests, "cpu_mean": self.mean,
                "cpu_max": self.max, "generator_bound": self.bound}


@dataclass(frozen=True)
class LoadResult:
    requests: int
    failures: int
    failures_by_kind: dict[str, int]
    duration_s: float  # first to last second with requests
    rps: float
    latency: Latency
    histogram_us: dict[int, int]  # µs bucket (3 significant digits) -> successful requests
    timeline: list[Second]
    backends: dict[str, int]  # echo pod name -> answered requests, summed over workers
    workers: list[WorkerCpu]
    generator_bound: bool
    master_cpu_max: float
    locust: dict[str, Any] = field(default_factory=dict)  # locust's own totals, for cross-checking
    spec: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0  # harness wall time of the whole run: pod start-up, run, result, not cleanup

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (histogram keys become strings) for results.json metrics."""
        d = asdict(self)
        d["histogram_us"] = {str(k): v for k, v in sorted(self.histogram_us.items())}
        return d

    def summary(self) -> dict[str, Any]:
        """The headline numbers, without timeline and histogram."""
        return {"requests": self.requests, "failures": self.failures, "failures_by_kind": self.failures_by_kind,
                "rps": self.rps, "duration_s": self.duration_s, "latency_ms": asdict(self.latency),
                "backends": self.backends, "generator_bound": self.generator_bound,
                "worker_cpu_max": {w.worker: w.max for w in self.workers}, "master_cpu_max": self.master_cpu_max,
                "workers": [w.summary() for w in self.workers]}


def cpu_bound(samples: list[float], threshold: float = CPU_BOUND_PERCENT, window: int = CPU_BOUND_WINDOW) -> bool:
    """True when ``window`` consecutive samples exceed ``threshold`` (or all of a shorter run do)."""
    if not samples:
        return False
    need = min(window, len(samples))
    run = 0
    for s in samples:
        run = run + 1 if s > threshold else 0
        if run >= need:
            return True
    return False


def worker_cpu(name: str, samples: list[list[float]], node: str | None = None, requests: int = 0) -> WorkerCpu:
    values = [float(s[1]) for s in sorted(samples)]
    return WorkerCpu(worker=name, samples=values, mean=round(sum(values) / len(values), 1) if values else 0.0,
                     max=max(values, default=0.0), bound=cpu_bound(values), node=node, requests=requests)


def timeline(seconds: dict[str, dict[str, Any]]) -> list[Second]:
    """Per-second rows from the first to the last second with requests; silent seconds are zeros."""
    if not seconds:
        return []
    keys = sorted(int(k) for k in seconds)
    rows = []
    for sec in range(keys[0], keys[-1] + 1):
        data = seconds.get(str(sec), {"n": 0, "fail": {}, "hist": {}})
        rows.append(Second(t=sec - keys[0], requests=int(data["n"]), failures=dict(data["fail"]),
                           latency=Latency.of(lgstats.merge_hist([data["hist"]]))))
    return rows


def from_raw(raw: dict[str, Any]) -> LoadResult:
    """Build a LoadResult from the master's ``PROXYLAB-LOADGEN-RESULT`` JSON."""
    seconds: dict[str, dict[str, Any]] = raw.get("seconds", {})
    rows = timeline(seconds)
    hist = lgstats.merge_hist(s["hist"] for s in seconds.values())
    by_kind: dict[str, int] = {}
    for s in seconds.values():
        for k, v in s["fail"].items():
            by_kind[k] = by_kind.get(k, 0) + int(v)
    requests = sum(int(s["n"]) for s in seconds.values())
    duration = float(len(rows))
    nodes: dict[str, str] = raw.get("worker_nodes", {})
    made: dict[str, int] = raw.get("worker_requests", {})
    workers = [worker_cpu(name, samples, nodes.get(name), int(made.get(name, 0)))
               for name, samples in sorted(raw.get("cpu", {}).items())]
    return LoadResult(
        requests=requests, failures=sum(by_kind.values()), failures_by_kind=by_kind, duration_s=duration,
        rps=round(requests / duration, 1) if duration else 0.0, latency=Latency.of(hist), histogram_us=hist,
        timeline=rows, backends=dict(sorted(raw.get("backends", {}).items())), workers=workers,
        generator_bound=any(w.bound for w in workers),
        master_cpu_max=max((float(s[1]) for s in raw.get("master_cpu", [])), default=0.0),
        locust=raw.get("locust", {}), spec=raw.get("spec", {}), wall_s=float(raw.get("wall_s", 0.0)))
