"""Genuine behavioural differences of a proxy mode from kube-proxy, written down in one place
(for every suite: the session conftest applies them to any test by name).

A test listed here for the session's mode runs as a strict expected failure: it is reported
(as skipped with the reason in results.json and the report), and it turns red the day the mode
starts behaving like kube-proxy, so the entry cannot go stale silently.
"""

from __future__ import annotations

KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    ("ebpf", "test_service_without_endpoints_is_refused_promptly"):
        "Cilium's socket-level load balancer fails connect() to a Service without backends with "
        "EHOSTUNREACH (fast) where kube-proxy's REJECT gives ECONNREFUSED",
    ("ebpf", "test_service_without_endpoints_refuses_within_one_second"):
        "Cilium's socket-level load balancer fails connect() to a Service without backends with "
        "EHOSTUNREACH (fast) where kube-proxy's REJECT gives ECONNREFUSED",
    ("ebpf", "test_service_without_endpoints_is_refused"):
        "Cilium's socket-level load balancer fails connect() to a Service without backends with "
        "EHOSTUNREACH (classified 'unreachable') where kube-proxy's REJECT gives ECONNREFUSED",
}


def reason_for(mode: str, test_name: str) -> str | None:
    """The recorded difference for ``test_name`` (parameters stripped) under ``mode``, if any."""
    return KNOWN_DIFFERENCES.get((mode, test_name.split("[", 1)[0]))
