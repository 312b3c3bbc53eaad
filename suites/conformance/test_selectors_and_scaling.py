"""Endpoints follow labels and replicas: a pod that gains the Service's labels joins, one that loses
them leaves; scaling up adds backends that receive traffic, scaling down removes them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from operators.fixture import FIXTURE_LABEL
from proxylab import manifests
from proxylab.wait import wait_for
from suites.namespaces import Namespace

pytestmark = pytest.mark.e2e


def backends_seen(ns: Namespace, client: str, url: str, n: int = 60) -> set[str]:
    answer = ns.probe(client, "get", url, str(n))
    assert answer["errors"] == {}, f"requests failed: {answer['errors']}"
    return set(answer["counts"])


def answering(ns: Namespace, client: str, url: str, n: int = 60) -> tuple[set[str], dict[str, Any]]:
    """(backends that answered, failed requests by kind): while endpoints change, some requests may
    fail; convergence is reached only by a round without failures."""
    answer = ns.probe(client, "get", url, str(n))
    return set(answer["counts"]), answer["errors"]


def converge(ns: Namespace, client: str, url: str, want: set[str], what: str) -> float:
    """Seconds until the set of backends answering equals ``want`` (and no request fails)."""
    def check() -> tuple[bool, str]:
        seen, errors = answering(ns, client, url)
        return seen == want and not errors, f"answering: {sorted(seen)}, errors {errors}"

    return wait_for(check, timeout=30, what=what, interval=0.2)


def test_pod_joins_and_leaves_with_its_labels(namespace: Namespace, metrics: dict[str, Any]) -> None:
    fx = namespace.fixture("sel", {"replicas": 2})
    st = fx.status()
    url = f"http://{st['service']['clusterIP']}/"
    client = namespace.probe_pod("client", namespace.workers[0])
    members = {e["pod"] for e in st["endpoints"]}
    namespace.wait_serving(client, url, members)
    stray = manifests.echo_deployment("stray", namespace.image, 1, labels={"app": "stray"})["spec"]["template"]
    namespace.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "stray"}},
                     "spec": stray["spec"]})
    namespace.wait_ready("app=stray", 1)
    assert backends_seen(namespace, client, url) == members, "a pod without the labels received traffic"
    core = namespace.core()
    t0 = time.monotonic()
    core.patch_namespaced_pod("stray", namespace.name, {"metadata": {"labels": {FIXTURE_LABEL: "sel"}}})
    metrics["join_s"] = round(converge(namespace, client, url, members | {"stray"}, "stray pod joining"), 3)
    core.patch_namespaced_pod("stray", namespace.name, {"metadata": {"labels": {FIXTURE_LABEL: None}}})
    metrics["leave_s"] = round(converge(namespace, client, url, members, "stray pod leaving"), 3)
    metrics["total_s"] = round(time.monotonic() - t0, 3)


def test_scale_up_and_down_changes_who_answers(namespace: Namespace, metrics: dict[str, Any]) -> None:
    fx = namespace.fixture("scale", {"replicas": 2})
    st = fx.status()
    url = f"http://{st['service']['clusterIP']}/"
    client = namespace.probe_pod("client", namespace.workers[0])
    namespace.wait_serving(client, url, {e["pod"] for e in st["endpoints"]})
    t0 = time.monotonic()
    fx.patch_spec({"replicas": 4})
    st = fx.wait_ready()
    four = {e["pod"] for e in st["endpoints"]}
    metrics["scale_up_ready_s"] = round(time.monotonic() - t0, 3)
    metrics["scale_up_traffic_s"] = round(time.monotonic() - t0 + converge(namespace, client, url, four, "4 backends"), 3)
    t1 = time.monotonic()
    fx.patch_spec({"replicas": 1})
    def one_left() -> tuple[bool, str]:
        seen, errors = answering(namespace, client, url)
        return len(seen) == 1 and seen <= four and not errors, f"answering {sorted(seen)}, errors {errors}"

    wait_for(one_left, timeout=30, what="scale down to 1 backend", interval=0.2)
    metrics["scale_down_traffic_s"] = round(time.monotonic() - t1, 3)
