"""Where a figure named by a metric id lives in one mode's results: which test, which key.

Since schema 2 every test record lists the ids it records (``metric_ids``: id -> key of its
metrics, declared next to the test with ``proxylab.results.records``), so a figure is found by id
whatever the test is called. Files of schema 1 were written before ids existed: for them, and
only for them, ``LEGACY`` gives the test name (after the last ``::``, with its parameters) and key
each id had then. ``LEGACY`` is frozen history: new ids need no entry.
"""

from __future__ import annotations

from proxylab.results import Metrics

from .load import ModeRun

SCALE_TEST = "test_data_path_at_scale"  # the Services sweep's curves (suites/performance/test_programming.py)

LEGACY: dict[str, tuple[str, str]] = {
    "throughput.keepalive.ratio_to_baseline": ("test_cluster_ip[keepalive]", "ratio_to_baseline"),
    "throughput.newconn.ratio_to_baseline": ("test_cluster_ip[newconn]", "ratio_to_baseline"),
    "throughput.newconn.p99_ms": ("test_cluster_ip[newconn]", "p99_ms"),
    "datapath.keepalive.ratio_to_baseline": ("test_data_path[keepalive]", "ratio_to_baseline"),
    "datapath.newconn.ratio_to_baseline": ("test_data_path[newconn]", "ratio_to_baseline"),
    "datapath.newconn.kernel_us_per_request": ("test_data_path[newconn]", "kernel_us_per_request"),
    "scale.newconn_ratio_to_baseline": (SCALE_TEST, "newconn_ratio_to_baseline"),
    "scale.newconn_ratio_to_smallest_k": (SCALE_TEST, "newconn_ratio_to_smallest_k"),
    "scale.connect_p99_ms": (SCALE_TEST, "connect_p99_ms"),
    "scale.kernel_cpu_us_per_request": (SCALE_TEST, "kernel_cpu_us_per_request"),
    "scale.newconn_rps": (SCALE_TEST, "newconn_rps"),
    "scale.keepalive_rps": (SCALE_TEST, "keepalive_rps"),
    "scale.newconn_p99_ms": (SCALE_TEST, "newconn_p99_ms"),
    "scale.sync_seconds": (SCALE_TEST, "sync_seconds"),
    "failover.kill.victim_gone_s": ("test_failover[kill]", "victim_gone_s"),
    "failover.kill.errors": ("test_failover[kill]", "errors"),
    "failover.unready.victim_gone_s": ("test_failover[unready]", "victim_gone_s"),
    "failover.drain.errors": ("test_failover[drain]", "errors"),
    "programming.new_service.latency": ("test_programming_latency_new_service", "programming_latency"),
    "programming.new_endpoint.latency": ("test_programming_latency_new_endpoint", "programming_latency"),
    "programming.first_packet_latency": ("test_first_packet_latency", "first_packet_latency"),
    "sweep.proxy_cpu_millicores": ("test_proxy_resources_during_sweep", "cpu_millicores"),
    "sweep.proxy_memory_mib": ("test_proxy_resources_during_sweep", "memory_mib"),
}


def find(run: ModeRun, metric_id: str) -> tuple[Metrics, str] | None:
    """The metrics of the passing test that records ``metric_id`` in ``run``, and the figure's key
    in them; None when no passing test recorded it."""
    if run.schema_version >= 2:
        for t in run.tests:
            key = t.get("metric_ids", {}).get(metric_id)
            if key is not None and t["verdict"] == "passed":
                return t["metrics"], key
        return None
    if metric_id not in LEGACY:
        return None
    test, key = LEGACY[metric_id]
    for t in run.tests:
        if t["id"].rsplit("::", 1)[-1] == test and t["verdict"] == "passed":
            return t["metrics"], key
    return None
