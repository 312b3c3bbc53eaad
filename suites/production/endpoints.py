"""The endpoints of a Service as the proxies see them: its EndpointSlices read straight from the
API server (the fixture's status is refreshed by the operator, up to seconds later)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from operators.fixture import status as fixture_status
from suites.namespaces import Namespace


def slice_endpoints(ns: Namespace, service: str) -> list[dict[str, Any]]:
    """One entry per endpoint: pod, ip, node, ready, serving, terminating (sorted by pod)."""
    slices = client.DiscoveryV1Api(ns.api).list_namespaced_endpoint_slice(
        ns.name, label_selector=f"kubernetes.io/service-name={service}").items
    return fixture_status.endpoints_from_slices([ns.api.sanitize_for_serialization(s) for s in slices])
