"""NetworkPolicy through a ClusterIP: a deny-all ingress policy on the backends blocks traffic
sent to their Service; an allow rule for one client restores it for that client only.

Runs where the mode's CNI enforces NetworkPolicy (Cilium in the ebpf mode). proxylab's own ptp
CNI, used by the kube-proxy modes, enforces none, so there the test is skipped with that reason:
a policy that is silently ignored must never count as a pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from operators.fixture import FIXTURE_LABEL
from proxylab.constants import ECHO_HTTP_PORT
from proxylab.modes import ProxyMode
from proxylab.wait import wait_for
from suites.namespaces import Namespace

pytestmark = pytest.mark.e2e

BOUND_S = 30.0  # policy changes must take effect within this (upstream e2e allows minutes; Cilium needs seconds)
PROBE_REQUESTS = 4


def deny_all_ingress(name: str, backend: str) -> dict[str, Any]:
    """Selects the fixture's backends, allows no ingress at all."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name},
            "spec": {"podSelector": {"matchLabels": {FIXTURE_LABEL: backend}}, "policyTypes": ["Ingress"]}}


def allow_from_probe(name: str, backend: str, probe: str, port: int) -> dict[str, Any]:
    """Allows ingress to the fixture's backends from the probe pod ``probe`` on ``port`` only (the
    backend's port: policies see the packet after the Service translated it)."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name},
            "spec": {"podSelector": {"matchLabels": {FIXTURE_LABEL: backend}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"probe-name": probe}}}],
                                  "ports": [{"protocol": "TCP", "port": port}]}]}}


def _blocked(ns: Namespace, pod: str, url: str, requests: int = PROBE_REQUESTS) -> tuple[bool, str]:
    answer = ns.probe(pod, "get", url, str(requests))
    return not answer["counts"], f"from {pod}: answered by {answer['counts']}, errors {answer['errors']}"


def _served(ns: Namespace, pod: str, url: str) -> tuple[bool, str]:
    answer = ns.probe(pod, "get", url, str(PROBE_REQUESTS))
    return not answer["errors"], f"from {pod}: answered by {answer['counts']}, errors {answer['errors']}"


def test_deny_all_ingress_blocks_clusterip_and_allow_rule_restores(
        proxy_mode: ProxyMode, request: pytest.FixtureRequest, metrics: dict[str, Any]) -> None:
    if not proxy_mode.cni_enforces_network_policy:
        pytest.skip(f"mode {proxy_mode.value} uses {proxy_mode.cni}, which does not enforce "
                    "NetworkPolicy; the test runs on modes whose CNI does (ebpf: Cilium)")
    # Requested only now, so a skipped mode creates no namespace (fixtures listed as arguments are
    # set up by scope, module-scoped `namespace` before any function-level check).
    namespace: Namespace = request.getfixturevalue("namespace")
    fx = namespace.fixture("guarded", {"replicas": 2})
    st = fx.status()
    url = f"http://{st['service']['clusterIP']}/"
    client = namespace.probe_pod("client", namespace.workers[0])
    outsider = namespace.probe_pod("outsider", namespace.workers[-1])
    namespace.wait_serving(client, url)
    namespace.wait_serving(outsider, url)

    namespace.apply(deny_all_ingress("deny-all", "guarded"))
    # Polled with one request per round: a blocked request costs the probe's 3 s timeout, so the
    # recorded convergence is an upper bound with about 3 s resolution.
    metrics["deny_convergence_s"] = round(wait_for(lambda: _blocked(namespace, client, url, 1), timeout=BOUND_S,
                                                   what="deny-all to block the client", interval=0.5), 3)
    ok, detail = _blocked(namespace, client, url)
    assert ok, f"deny-all ingress let some requests of the client through: {detail}"
    ok, detail = _blocked(namespace, outsider, url)
    assert ok, f"deny-all ingress did not block the second client: {detail}"

    namespace.apply(allow_from_probe("allow-client", "guarded", client, ECHO_HTTP_PORT))
    metrics["allow_convergence_s"] = round(wait_for(lambda: _served(namespace, client, url), timeout=BOUND_S,
                                                    what="the allow rule to restore the client", interval=0.5), 3)
    answer = namespace.probe(client, "get", url, "20")
    metrics["after_allow"] = {"counts": answer["counts"], "errors": answer["errors"]}
    assert not answer["errors"] and len(answer["counts"]) == 2, \
        f"with the allow rule every request must succeed and both backends answer: {answer}"
    ok, detail = _blocked(namespace, outsider, url)
    assert ok, f"the allow rule for one client also let another client through: {detail}"
