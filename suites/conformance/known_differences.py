"""Genuine behavioural differences of a proxy mode from kube-proxy, written down in one place
(for every suite: the session conftest applies them to any test by name). Each mode declares its
own, as ``known_differences`` in its module under proxylab/modes/.

A test listed here for the session's mode runs as a strict expected failure: it is reported
(as skipped with the reason in results.json and the report), and it turns red the day the mode
starts behaving like kube-proxy, so the entry cannot go stale silently.
"""

from __future__ import annotations

from proxylab.modes import ProxyMode


def reason_for(mode: ProxyMode, test_name: str) -> str | None:
    """The recorded difference for ``test_name`` under ``mode``, if any: by its full name with
    parameters (one upstream spec: ``test_upstream_spec[<spec id>]``), else by its function name."""
    return mode.known_differences.get(test_name) or mode.known_differences.get(test_name.split("[", 1)[0])
