"""The performance data contract: which ``metrics`` keys the report understands, and their units.

The contract is deliberately loose, so suites can grow without touching the report. A test's
``metrics`` object may hold any of:

- scalars from ``SCALARS`` (``rps``, ``p50_ms`` .. ``p99_ms``, ``ratio_to_baseline``,
  ``cpu_millicores``, ``memory_mib``, ...): shown in the performance table and bar charts;
  the latency percentiles of one test also get one chart with a bar group per mode;
- a timeline under a key ending in ``timeline``: a list of ``[t_seconds, value]`` pairs or of
  objects with ``t`` and one of ``value``/``v``/``ok_ratio``/``rps``: drawn for every mode on
  one time axis;
- a curve under a key in ``CURVES`` (``programming_latency``, ``first_packet_latency``, the scale
  test's ``newconn_rps``, ``connect_p99_ms``, ...): an object ``{"<number of Services>": value}``
  or a list of ``[K, value]`` (a null value is a K without a figure): one line per mode;
- next to a figure ``<key>``, its repeat statistics under ``<key>_stats``
  (``proxylab/perf/summary.py`` ``Summary.as_metrics()``: n, mean, sd, cv, ci95, values; for a
  curve an object ``{K: stats}``), optionally with ``"reliable": false`` and ``"cv_bound"``: the
  report draws the 95 % interval and decides significance and reliability from them
  (``significance.py``);
- ``invalid_runs``: a list of strings naming runs the suite discarded: listed, never charted.

Anything else is shown in the matrix cell's details but not charted. Numeric metrics with a known
direction (these, plus conformance timings named ``*_ms``/``*_seconds``) are also trended in the
history section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from proxylab.results import Metrics

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class MetricInfo:
    label: str
    unit: str
    better: Better


MICROSECONDS = "\u00b5s"
SCALARS: dict[str, MetricInfo] = {
    "rps": MetricInfo("throughput", "requests/s", "higher"),
    "ratio_to_baseline": MetricInfo("ratio to pod-IP baseline", "x", "higher"),
    "throughput_ratio": MetricInfo("throughput / pod-IP baseline", "x", "higher"),
    "latency_ratio": MetricInfo("latency / pod-IP baseline", "x", "lower"),
    "p50_ms": MetricInfo("p50 latency", "ms", "lower"),
    "p90_ms": MetricInfo("p90 latency", "ms", "lower"),
    "p95_ms": MetricInfo("p95 latency", "ms", "lower"),
    "p99_ms": MetricInfo("p99 latency", "ms", "lower"),
    "failover_seconds": MetricInfo("failover time", "s", "lower"),
    "cpu_millicores": MetricInfo("proxy CPU", "millicores", "lower"),
    "memory_mib": MetricInfo("proxy memory", "MiB", "lower"),
    "error_ratio": MetricInfo("error ratio", "", "lower"),
    "kernel_us_per_request": MetricInfo("kernel CPU per request", MICROSECONDS, "lower"),
}
PERCENTILES = ("p50_ms", "p90_ms", "p95_ms", "p99_ms")
CURVES: dict[str, MetricInfo] = {
    "programming_latency": MetricInfo("programming latency", "s", "lower"),
    "first_packet_latency": MetricInfo("first-packet latency", "s", "lower"),
    # test_data_path_at_scale (suites/performance/test_programming.py): the data path with K Services
    "newconn_rps": MetricInfo("new-connection throughput", "requests/s", "higher"),
    "keepalive_rps": MetricInfo("keep-alive throughput", "requests/s", "higher"),
    "newconn_pod_ip_rps": MetricInfo("new-connection throughput by pod IP (no Service)", "requests/s", "higher"),
    "keepalive_pod_ip_rps": MetricInfo("keep-alive throughput by pod IP (no Service)", "requests/s", "higher"),
    "newconn_ratio_to_smallest_k": MetricInfo("new-connection throughput / at the smallest K", "x", "higher"),
    "keepalive_ratio_to_smallest_k": MetricInfo("keep-alive throughput / at the smallest K", "x", "higher"),
    "newconn_ratio_to_baseline": MetricInfo("new-connection throughput / pod-IP baseline", "x", "higher"),
    "keepalive_ratio_to_baseline": MetricInfo("keep-alive throughput / pod-IP baseline", "x", "higher"),
    "newconn_p99_ms": MetricInfo("new-connection p99 latency under load", "ms", "lower"),
    "keepalive_p99_ms": MetricInfo("keep-alive p99 latency under load", "ms", "lower"),
    "connect_p50_ms": MetricInfo("connect p50", "ms", "lower"),
    "connect_p90_ms": MetricInfo("connect p90", "ms", "lower"),
    "connect_p99_ms": MetricInfo("connect p99", "ms", "lower"),
    "connect_pod_ip_p99_ms": MetricInfo("connect p99 by pod IP (no Service)", "ms", "lower"),
    "kernel_cpu_us_per_request": MetricInfo("kernel CPU per request", MICROSECONDS, "lower"),
    "dataplane_entries": MetricInfo("data-plane entries", "entries", "lower"),
    "service_rule_position": MetricInfo("rules a first packet to the measured Service is compared against", "rules",
                                        "lower"),
    "sync_seconds": MetricInfo("proxy sync time", "s", "lower"),
}
STATS_SUFFIX = "_stats"
INVALID_RUNS = "invalid_runs"
NOISE_FLOOR = {"ms": 1.0, "s": 0.05}  # absolute changes below these are never called regressions
_TIMELINE_VALUE_KEYS = ("value", "v", "ok_ratio", "rps")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def info(key: str) -> MetricInfo | None:
    """What the report knows about a scalar metric, including conformance timings by suffix."""
    if key in SCALARS:
        return SCALARS[key]
    if key.endswith("_ms"):
        return MetricInfo(key.removesuffix("_ms").replace("_", " "), "ms", "lower")
    if key == "seconds" or key.endswith("_seconds"):
        return MetricInfo(key.removesuffix("_seconds").replace("_", " ") or "time", "s", "lower")
    return None


def timeline_points(value: Any) -> list[tuple[float, float]] | None:
    """``[[t, v], ...]`` or ``[{"t": .., "value": ..}, ...]`` as (t, v) pairs; None if not a timeline."""
    if not isinstance(value, list) or not value:
        return None
    points = []
    for p in value:
        if isinstance(p, list | tuple) and len(p) == 2 and is_number(p[0]) and is_number(p[1]):
            points.append((float(p[0]), float(p[1])))
        elif isinstance(p, dict) and is_number(p.get("t")):
            v = next((p[k] for k in _TIMELINE_VALUE_KEYS if is_number(p.get(k))), None)
            if v is None:
                return None
            points.append((float(p["t"]), float(v)))
        else:
            return None
    return points


def curve_points(value: Any) -> list[tuple[float, float]] | None:
    """``{"100": 0.4, ...}`` or ``[[100, 0.4], ...]`` as (K, v) pairs sorted by K; None otherwise.

    A null value is a K where nothing was measured: left out, not a reason to drop the curve."""
    pairs: list[tuple[Any, Any]]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [tuple(p) for p in value if isinstance(p, list | tuple) and len(p) == 2]
        if len(pairs) != len(value):
            return None
    else:
        return None
    out = []
    for k, v in pairs:
        if v is None:
            continue
        try:
            out.append((float(k), float(v)))
        except (TypeError, ValueError):
            return None
    return sorted(out) or None


def is_performance(metrics: Metrics) -> bool:
    """Whether a test's metrics hold anything the performance section charts."""
    return any(
        (k in SCALARS and is_number(v)) or (k in CURVES and curve_points(v))
        or (k.endswith("timeline") and timeline_points(v))
        for k, v in metrics.items()
    )


def stats_of(metrics: Metrics, key: str) -> Any:
    """The ``<key>_stats`` sibling of a figure (None if the suite recorded none)."""
    return metrics.get(key + STATS_SUFFIX)


def curve_stats(value: Any) -> dict[float, Any]:
    """A curve's ``{K: stats}`` keyed by K as a number (the same K's ``curve_points`` gives)."""
    if not isinstance(value, dict):
        return {}
    out: dict[float, Any] = {}
    for k, v in value.items():
        try:
            out[float(k)] = v
        except (TypeError, ValueError):
            continue
    return out


def invalid_runs(metrics: Metrics) -> list[str]:
    """The runs a suite discarded (``invalid_runs``), as strings; [] if none."""
    value = metrics.get(INVALID_RUNS)
    return [str(v) for v in value] if isinstance(value, list) else []
