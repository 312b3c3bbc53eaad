"""A throw-away namespace per test module with probe helpers, for every e2e suite (the ``namespace``
fixture is registered by suites/conftest.py)."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from operators.fixture import client as fixtures
from proxylab import kube, manifests
from proxylab.cluster import ClusterInfo
from proxylab.constants import NAMESPACE_READY_TIMEOUT_S, POD_READY_TIMEOUT_S
from proxylab.images.catalog import cluster_catalog
from proxylab.wait import wait_for


@dataclass(frozen=True)
class UntilPoll:
    """How the echo binary's ``until`` polls: each attempt's connect+answer timeout, the gap between
    attempts, and the deadline for the wanted outcome."""

    deadline_s: float
    timeout_ms: int
    gap_ms: int


def until_args(address: str, want: str, poll: UntilPoll) -> tuple[str, ...]:
    """The echo binary's arguments for ``until`` (HOST:PORT WANT DEADLINE_S TIMEOUT_MS GAP_MS), shared by
    probes in pods (Namespace.until) and outside the cluster (suites/outside.py)."""
    return ("until", address, want, f"{poll.deadline_s:g}", str(poll.timeout_ms), str(poll.gap_ms))


@dataclass
class Namespace:
    """A throw-away namespace on the session cluster with helpers to create and probe in it."""

    api: client.ApiClient
    name: str
    cluster: ClusterInfo
    probes: set[str] = field(default_factory=set)

    @property
    def image(self) -> str:
        return cluster_catalog().echo

    @property
    def workers(self) -> list[str]:
        return self.cluster.workers

    def apply(self, obj: dict[str, Any]) -> Any:
        return kube.apply(self.api, obj, namespace=self.name)

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def wait_ready(self, selector: str, count: int, timeout: float = POD_READY_TIMEOUT_S) -> float:
        return wait_for(lambda: kube.pod_ready(self.api, self.name, selector, count), timeout=timeout,
                        what=f"{count} ready pods matching {selector} in {self.name}")

    def fixture(self, name: str, spec: dict[str, Any], wait: bool = True) -> fixtures.Fixture:
        """Create a ServiceFixture through the operator (and wait until all backends are ready).

        The spec is validated before it is submitted (operators.fixture.spec: the CRD's schema plus
        the rules across fields), so a mistake in a test fails at once with the field named; the
        API server would silently prune an unknown field."""
        fx = fixtures.create(self.api, self.name, name, spec)
        if wait:
            fx.wait_ready()
        return fx

    def probe_pod(self, name: str, node: str | None = None) -> str:
        """A client pod (the echo image, idle) on ``node``; created once per namespace and name."""
        if name not in self.probes:
            self.apply(manifests.probe_pod(name, self.image, node=node))
            wait_for(lambda: kube.pod_ready(self.api, self.name, f"probe-name={name}", 1), timeout=POD_READY_TIMEOUT_S,
                     what=f"probe pod {name}")
            self.probes.add(name)
        return name

    def wait_serving(self, pod: str, url: str, backends: set[str] | None = None, timeout: float = 60) -> float:
        """Poll from ``pod`` until ``url`` answers without errors (and, given ``backends``, until every
        one of them answers): endpoints being Ready in the API does not mean the proxy on the
        client's node has programmed them yet. Returns the seconds it took (programming latency
        as seen from this client, at 0.2 s resolution)."""
        n = str(max(1, 4 * len(backends or ())))

        def check() -> tuple[bool, str]:
            a = self.probe(pod, "get", url, n)
            ok = not a["errors"] and (backends is None or set(a["counts"]) == backends)
            return ok, f"last answer {a}"

        return wait_for(check, timeout=timeout, what=f"{url} answering from {pod}", interval=0.2)

    def pod_ip(self, pod: str) -> str:
        return str(self.core().read_namespaced_pod(pod, self.name).status.pod_ip)

    def until(self, pod: str, address: str, want: str, poll: UntilPoll) -> dict[str, Any]:
        """Poll ``address`` (HOST:PORT) from ``pod`` until the outcome is ``want`` ("ok", "refused",
        ...) or ``poll.deadline_s`` has passed; the echo binary's answer (``hit`` is None on a miss).
        The exec itself may run a minute beyond the deadline (pod exec start-up, a slow API server)."""
        return self.probe(pod, *until_args(address, want, poll), timeout=poll.deadline_s + 60)

    def probe(self, pod: str, *args: str, timeout: float = 120) -> dict[str, Any]:
        """Run `/echo <args>` in ``pod`` and parse its JSON answer."""
        res = kube.exec_in_pod(self.api, self.name, pod, ["/echo", *args], timeout=timeout)
        if res.returncode != 0:
            raise AssertionError(f"probe {args} in {pod} exited {res.returncode}: {res.stderr or res.stdout}")
        parsed: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
        return parsed


@pytest.fixture(scope="module")
def namespace(cluster: ClusterInfo, fixture_operator: float, request: pytest.FixtureRequest) -> Iterator[Namespace]:
    api = kube.api_client(cluster.kubeconfig)
    base = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")[:40]
    ns = Namespace(api, f"{base}-{uuid.uuid4().hex[:6]}", cluster)
    kube.apply(api, manifests.namespace(ns.name))
    wait_for(lambda: (bool(client.CoreV1Api(api).list_namespaced_service_account(ns.name).items),
                      "waiting for the default service account"), timeout=NAMESPACE_READY_TIMEOUT_S, what=f"namespace {ns.name}")
    try:
        yield ns
    finally:
        left = fixtures.delete_all(api, ns.name)  # first, while the namespace is live (see delete_all)
        kube.delete_namespace(api, ns.name)
        if left:
            # Not an error of the test that used them; said where the session's output shows it.
            print(f"\nproxylab: ServiceFixtures {left} in {ns.name} were not released by the operator within "
                  "90 s; the namespace may stay Terminating", file=sys.stderr, flush=True)


@dataclass
class Background:
    """A probe running in a thread; ``result()`` joins it (re-raising its error)."""

    thread: threading.Thread
    holder: dict[str, Any]

    def result(self, timeout: float) -> dict[str, Any]:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"background probe still running after {timeout}s")
        if "error" in self.holder:
            raise self.holder["error"]
        out: dict[str, Any] = self.holder["result"]
        return out


def in_background(fn: Callable[[], dict[str, Any]]) -> Background:
    holder: dict[str, Any] = {}

    def target() -> None:
        try:
            holder["result"] = fn()
        except BaseException as exc:  # handed to the caller by result()
            holder["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return Background(thread, holder)
