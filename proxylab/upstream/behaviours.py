"""The behaviour map: for each data-plane behaviour, the upstream specs and proxylab tests that check it.

This is the one declared place. The report shows both verdicts per mode side by side and marks
a disagreement (one side passes where the other fails on the same behaviour: one of them is
wrong). ``suites/unit/test_upstream.py`` checks every upstream id against the checked-in spec
list (itself checked against the built binary) and every proxylab name against the suites'
test functions, so a renamed spec or test fails there rather than leaving a hole in the map.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..results import RecordDoc, is_known_difference

UPSTREAM_TEST = "suites/upstream/test_upstream.py::test_upstream_spec"

SideVerdict = Literal["pass", "fail", "not run"]


@dataclass(frozen=True)
class Behaviour:
    name: str
    upstream: tuple[str, ...]  # spec ids (proxylab.upstream.specs.Spec.slug)
    proxylab: tuple[str, ...]  # proxylab test function names (any suite)
    note: str = ""  # what differs between the two sides' checks, when it matters for reading them

    @property
    def coverage(self) -> str:
        if self.upstream and self.proxylab:
            return "both"
        return "upstream only" if self.upstream else "proxylab only"


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("ClusterIP reaches the backends",
              ("should-serve-a-basic-endpoint-from-pods", "should-be-able-to-up-and-down-services"),
              ("test_cluster_ip_reaches_every_backend_across_nodes", "test_pod_reaches_every_backend",
               "test_host_network_client_on_a_node_reaches_the_service")),
    Behaviour("session affinity (ClientIP, ClusterIP)",
              ("should-have-session-affinity-work-for-service-with-type-clusterip",
               "should-have-session-affinity-timeout-work-for-service-with-type-clusterip",
               "should-be-able-to-switch-session-affinity-for-service-with-type-clusterip"),
              ("test_client_ip_affinity_sticks_then_expires",)),
    Behaviour("no endpoints: connections rejected",
              ("should-be-rejected-when-no-endpoints-exist", "should-be-rejected-for-evicted-pods-no-endpoints-exist"),
              ("test_service_without_endpoints_refuses_within_one_second",
               "test_service_without_endpoints_is_refused_promptly"),
              "upstream expects 'connection refused' from the client; proxylab also times the reject"),
    Behaviour("hairpin (a backend reaches itself through its Service)",
              ("should-allow-pods-to-hairpin-back-to-themselves-through-services",),
              ("test_hairpin_backend_reaches_itself_through_its_service",)),
    Behaviour("client source IP preserved to the backend",
              ("should-preserve-source-pod-ip-for-traffic-thru-service-cluster-ip",),
              ("test_backend_sees_the_client_pod_ip",)),
    Behaviour("internalTrafficPolicy=Local",
              ("should-respect-internaltrafficpolicy-local-pod-to-pod",
               "should-respect-internaltrafficpolicy-local-pod-hostnetwork-true-to-pod",
               "should-respect-internaltrafficpolicy-local-pod-and-node-to-pod-hostnetwork-true"),
              ("test_internal_traffic_policy_local_keeps_traffic_on_the_node",)),
    Behaviour("unready or terminating endpoints get no new connections",
              ("should-not-be-able-to-connect-to-terminating-and-unready-endpoints-if-publishnotreadyaddresses-is-false",),
              ("test_unready_backend_is_excluded_then_readmitted",
               "test_drain_completes_in_flight_requests_and_diverts_new_ones"),
              "proxylab also times readmission and checks that in-flight requests complete"),
    Behaviour("NodePort answers on every node",
              ("should-be-able-to-create-a-functioning-nodeport-service",),
              ("test_node_port_answers_on_every_node",)),
    Behaviour("multiple ports, named target ports, protocols",
              ("should-serve-multiport-endpoints-from-pods",
               "should-support-named-targetports-that-resolve-to-different-ports-on-different-endpoints",
               "should-serve-endpoints-on-same-port-and-different-protocols"),
              ("test_multi_port_udp_and_named_target_port",)),
    # Upstream only (issue 11 adds proxylab's measured versions of the most important).
    Behaviour("ports added to / removed from a live Service",
              ("should-be-updated-after-adding-or-deleting-ports",),
              ("test_added_port_answers", "test_removed_port_stops_answering_and_leaves_no_entry"),
              "proxylab also times each change and checks every node's dataplane holds nothing of a removed port"),
    Behaviour("Service deleted and re-created",
              ("should-work-after-the-service-has-been-recreated",),
              ("test_deleted_service_stops_answering_and_leaves_nothing", "test_recreated_service_gets_working_rules")),
    Behaviour("session affinity on NodePort",
              ("should-have-session-affinity-work-for-nodeport-service",
               "should-have-session-affinity-timeout-work-for-nodeport-service",
               "should-be-able-to-switch-session-affinity-for-nodeport-service"),
              ("test_client_ip_affinity_from_outside",),
              "proxylab checks from outside the cluster (upstream from a pod); affinity only, not its timeout"),
    Behaviour("externalTrafficPolicy=Local",
              ("should-support-externaltrafficpolicy-local-for-type-nodeport",
               "should-implement-nodeport-and-healthchecknodeport-correctly-when-externaltrafficpolicy-changes",
               "should-fail-health-check-node-port-if-there-are-only-terminating-endpoints"),
              ("test_local_policy_backend_sees_the_client_ip", "test_local_policy_node_without_backend_does_not_forward",
               "test_health_check_node_port_reports_local_backends"),
              "proxylab checks from outside the cluster, and the healthCheckNodePort on every node"),
    Behaviour("fallback to terminating endpoints when none is ready",
              ("should-fallback-to-terminating-endpoints-when-there-are-no-ready-endpoints-with-internaltrafficpolicy-cluster",
               "should-fallback-to-local-terminating-endpoints-when-there-are-no-ready-endpoints-with-internaltrafficpolicy-local",
               "should-fallback-to-terminating-endpoints-when-there-are-no-ready-endpoints-with-externalltrafficpolicy-cluster",
               "should-fallback-to-local-terminating-endpoints-when-there-are-no-ready-endpoints-with-externaltrafficpolicy-local"),
              ("test_traffic_falls_back_to_terminating_endpoints",),
              "proxylab: internalTrafficPolicy Cluster and Local, through a 20 s drain, and times it; "
              "upstream also covers externalTrafficPolicy"),
    Behaviour("publishNotReadyAddresses",
              ("should-be-able-to-connect-to-terminating-and-unready-endpoints-if-publishnotreadyaddresses-is-true",
               "should-create-endpoints-for-unready-pods"), ()),
    Behaviour("ExternalIP not assigned to a node",
              ("should-be-possible-to-connect-to-a-service-via-externalip-when-the-external-ip-is-not-assigned-to-a-node",),
              ()),
    Behaviour("service-proxy-name and headless labels honoured",
              ("should-implement-service-kubernetes-io-service-proxy-name", "should-implement-service-kubernetes-io-headless"),
              ()),
    # proxylab only.
    Behaviour("new connections spread evenly (chi-squared)", (), ("test_new_connections_spread_evenly_over_five_backends",)),
    Behaviour("endpoints follow labels and scaling", (),
              ("test_pod_joins_and_leaves_with_its_labels", "test_scale_up_and_down_changes_who_answers")),
    Behaviour("ClusterIP unreachable from outside the cluster", (), ("test_cluster_ip_is_unreachable_from_outside",)),
    Behaviour("NetworkPolicy applies to ClusterIP traffic", (),
              ("test_deny_all_ingress_blocks_clusterip_and_allow_rule_restores",)),
)


def upstream_record_id(slug: str) -> str:
    return f"{UPSTREAM_TEST}[{slug}]"


def _function_name(record_id: str) -> str:
    return record_id.rsplit("::", 1)[-1].split("[", 1)[0]


def side_verdict(records: Iterable[RecordDoc]) -> SideVerdict:
    """One side's verdict on a behaviour from its tests' records in one mode's results.

    "fail" when any test failed or is a recorded known difference (an expected failure that did
    show: the mode does not behave as the test requires); "pass" when at least one ran and all
    that ran passed; "not run" otherwise (absent, skipped, or not in this run's selection)."""
    ran = [r for r in records
           if r.get("verdict") in ("passed", "failed") or is_known_difference(r)]
    if not ran:
        return "not run"
    return "pass" if all(r.get("verdict") == "passed" for r in ran) else "fail"


@dataclass(frozen=True)
class Row:
    behaviour: Behaviour
    upstream: SideVerdict
    proxylab: SideVerdict

    @property
    def disagreement(self) -> bool:
        return {self.upstream, self.proxylab} == {"pass", "fail"}


def rows_for(records: Sequence[RecordDoc]) -> list[Row]:
    """Every behaviour with both sides' verdicts in one mode's records."""
    by_function: dict[str, list[RecordDoc]] = {}
    by_id = {r["id"]: r for r in records}
    for record in records:
        by_function.setdefault(_function_name(record["id"]), []).append(record)
    rows = []
    for behaviour in BEHAVIOURS:
        upstream = [by_id[i] for i in map(upstream_record_id, behaviour.upstream) if i in by_id]
        ours = [r for name in behaviour.proxylab for r in by_function.get(name, [])]
        rows.append(Row(behaviour, side_verdict(upstream), side_verdict(ours)))
    return rows
