"""Switching the proxy mode in place (issue 11): the session cluster is switched to another
kube-proxy mode and back (`proxylab cluster switch-mode`, :mod:`proxylab.switchmode`) while an
echo probe series keeps sending new connections through a ClusterIP with 4 backends.

Per switch: failed requests and the longest gap between answers, the time until every new proxy
had synced, and whether the old mode's rules are gone from every node afterwards (kube-proxy
cleans up the other proxiers' rules when it starts). The cluster is always switched back to the
session's mode, in a ``finally``: later tests rely on it; a failed restore fails this test loudly
and names the cluster's state.

Runs where the session's mode can be switched in place to another mode this host supports (the
modes decide: :meth:`ProxyMode.switch_refusal`; today iptables <-> nftables, and ipvs where the
host has it); skipped with the reason elsewhere (Cilium, configured kube-proxy variants).
Asserted: each switch verifies (the new mode is in effect on every node), traffic answers at the
end of each switch's window, and the old mode's rules are gone within OLD_RULES_TIMEOUT_S.
Failed requests are recorded as findings, not failures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from proxylab import cluster as cluster_mod
from proxylab import switchmode
from proxylab.convergence import parse_series
from proxylab.errors import ProxylabError
from proxylab.modes import ProxyMode, all_modes
from proxylab.perf import keepalive
from proxylab.wait import wait_for
from suites.namespaces import Namespace, in_background

pytestmark = [pytest.mark.e2e, pytest.mark.disruptive, pytest.mark.node_access]  # docker exec on nodes

BACKENDS = 4
INTERVAL_MS = 100
TIMEOUT_MS = 1000
LEAD_S = 3.0
WINDOW_S = 20.0  # one switch (about 5 s on kube-proxy) and the time after it
OLD_RULES_TIMEOUT_S = 30.0


def switch_target(mode: ProxyMode) -> ProxyMode | None:
    """The first registered mode the session's ``mode`` can be switched to on this host."""
    for other in all_modes():
        if other is not mode and other.implemented and mode.switch_refusal(other) is None \
                and other.host_support()[0]:
            return other
    return None


@dataclass
class Target:
    ns: Namespace
    url: str
    client: str


@pytest.fixture(scope="module")
def target(namespace: Namespace) -> Target:
    fx = namespace.fixture("switch", {"replicas": BACKENDS})
    url = f"http://{fx.status()['service']['clusterIP']}/"
    node = namespace.workers[0] if namespace.workers else None
    client = namespace.probe_pod("sw-client", node)
    namespace.wait_serving(client, url)
    return Target(namespace, url, client)


def _old_rules_gone(old: ProxyMode, nodes: list[str]) -> dict[str, str]:
    """Wait until ``old``'s rules are gone from every node; node -> what was seen last."""
    seen: dict[str, str] = {}

    def check() -> tuple[bool, str]:
        left = []
        for node in nodes:
            present, what = old.rules_present(node)
            seen[node] = what
            if present:
                left.append(f"{node}: {what}")
        return not left, "; ".join(left)

    wait_for(check, timeout=OLD_RULES_TIMEOUT_S, what=f"{old.value} rules removed from every node", interval=1)
    return seen


def _switch_under_traffic(t: Target, to: ProxyMode, metrics: dict[str, Any], key: str) -> None:
    """One switch of the session cluster to ``to`` while a series runs; records ``<key>_*``."""
    info = cluster_mod.load(t.ns.cluster.name)
    old = info.mode
    window_ms = str(round(WINDOW_S * 1000))
    bg = in_background(lambda: t.ns.probe(t.client, "series", t.url, window_ms, str(INTERVAL_MS), str(TIMEOUT_MS),
                                          timeout=WINDOW_S + 60))
    time.sleep(LEAD_S + 1.5)  # the exec takes a moment to start; the probe reports when it did
    change_ms = time.time() * 1000
    done = switchmode.switch_cluster(info, to, say=lambda _: None)
    raw = bg.result(WINDOW_S + 90)
    assert raw["started"] < change_ms, "the series started after the switch: nothing observed before it"
    samples = parse_series(raw["samples"])
    seen = keepalive.analyse(samples, change_ms)
    metrics.update({f"{key}_from": old.value, f"{key}_to": to.value, f"{key}_resync_s": done.resync_s,
                    f"{key}_took_s": done.total_s, **seen.as_metrics(key)})
    assert not sorted(samples)[-1].failed, \
        f"{old.value} -> {to.value}: new connections still failed at the end of the window ({seen.failed_by_kind})"
    metrics[f"{key}_old_rules_seen"] = _old_rules_gone(old, info.nodes)
    metrics[f"{key}_old_rules_gone"] = True


def test_switch_mode_and_back_under_traffic(target: Target, proxy_mode: ProxyMode, metrics: dict[str, Any]) -> None:
    other = switch_target(proxy_mode)
    if other is None:
        reasons = {m.value: proxy_mode.switch_refusal(m) or m.host_support()[1] for m in all_modes()
                   if m is not proxy_mode}
        pytest.skip(f"a cluster running {proxy_mode.value} cannot be switched in place to another mode on this "
                    f"host: {next(iter(reasons.values()), 'no other mode')}")
    metrics.update(original_mode=proxy_mode.value, switched_to=other.value)
    try:
        _switch_under_traffic(target, other, metrics, "forward")
    finally:
        _restore(target, proxy_mode, metrics)
    metrics["failed_requests"] = metrics["forward_failed_requests"] + metrics["back_failed_requests"]
    metrics["longest_gap_s"] = max(metrics["forward_longest_gap_s"], metrics["back_longest_gap_s"])


def _restore(t: Target, original: ProxyMode, metrics: dict[str, Any]) -> None:
    """Back to the session's mode (under traffic, measured like the first switch); loudly on failure."""
    try:
        if cluster_mod.load(t.ns.cluster.name).mode is original:
            return  # the forward switch failed before it changed the recorded mode
        _switch_under_traffic(t, original, metrics, "back")
    except (ProxylabError, AssertionError) as exc:
        if cluster_mod.load(t.ns.cluster.name).mode is not original:
            pytest.fail(f"RESTORE FAILED: cluster {t.ns.cluster.name} still runs "
                        f"{cluster_mod.load(t.ns.cluster.name).mode.value}, not the session's {original.value}; "
                        f"later tests of this session are invalid. Switch it back with `proxylab cluster "
                        f"switch-mode {t.ns.cluster.name} --to {original.value}` or recreate it. Cause: {exc}")
        raise
