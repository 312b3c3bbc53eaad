"""`proxylab cleanup --kubeconfig PATH [--context NAME] [--run-id ID]`: remove what proxylab left
in a cluster, by its run label only (proxylab/runlabels.py), also after a ``kill -9`` of a run.

The order matters: ServiceFixtures first, while the operator still runs to release kopf's
finalizer (a fixture deleted with its namespace can hold the namespace Terminating), then pods and
ConfigMaps outside proxylab's namespaces, then the namespaces, then the operator's cluster-scoped
objects. The operator (its namespace, CRD, ClusterRole/Binding) is shared by every run on the
cluster: with ``--run-id`` it is kept while fixtures that are not this run's remain (deleting the
CRD would delete them too).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client

from operators.fixture import GROUP, PLURAL, VERSION
from operators.fixture.deploy import NAMESPACE as OPERATOR_NAMESPACE

from . import access, runlabels
from .errors import WaitTimeout
from .paths import state_dir
from .wait import wait_for

# Deletion order (see the module docstring).
ORDER = ("ServiceFixture", "Pod", "ConfigMap", "Namespace", "OperatorNamespace", "ClusterRoleBinding", "ClusterRole",
         "CustomResourceDefinition")
SHARED = ("OperatorNamespace", "ClusterRoleBinding", "ClusterRole", "CustomResourceDefinition")
FIXTURE_RELEASE_S = 90.0
NAMESPACE_GONE_S = 180.0


@dataclass(frozen=True)
class Obj:
    kind: str  # one of ORDER
    name: str
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        kind = "Namespace" if self.kind == "OperatorNamespace" else self.kind
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"


@dataclass
class Plan:
    delete: list[Obj]
    kept: list[tuple[Obj, str]]


def plan(found: Sequence[Obj], run_id: str | None, all_fixtures: Sequence[Obj]) -> Plan:
    """What to delete, in order, out of ``found`` (pure; unit-tested).

    Only objects whose labels say they are proxylab's (of ``run_id`` when given) are chosen,
    whatever a list returned. Pods and ConfigMaps inside a namespace that is deleted go with it.
    The shared operator objects stay while a ServiceFixture of ``all_fixtures`` (every one in the
    cluster) is not being deleted."""
    chosen = [o for o in found if runlabels.matches(o.labels, run_id)]
    namespaces = {o.name for o in chosen if o.kind in ("Namespace", "OperatorNamespace")}
    deleted_fixtures = {(o.namespace, o.name) for o in chosen if o.kind == "ServiceFixture"}
    others = [f for f in all_fixtures if (f.namespace, f.name) not in deleted_fixtures
              and f.namespace not in namespaces]
    out: list[Obj] = []
    kept: list[tuple[Obj, str]] = []
    for obj in chosen:
        if obj.kind in ("Pod", "ConfigMap") and obj.namespace in namespaces:
            continue  # goes with its namespace
        if obj.kind in SHARED and others:
            kept.append((obj, f"ServiceFixtures of other runs remain ({', '.join(str(f) for f in others[:3])}"
                              f"{' ...' if len(others) > 3 else ''}); the operator serves them"))
            continue
        out.append(obj)
    out.sort(key=lambda o: ORDER.index(o.kind))
    return Plan(out, kept)


def _labels(meta: object) -> dict[str, str]:
    return dict(getattr(meta, "labels", None) or {})


def inventory(api: client.ApiClient, run_id: str | None) -> tuple[list[Obj], list[Obj]]:
    """(proxylab's labelled objects, every ServiceFixture in the cluster)."""
    sel = runlabels.selector(run_id)
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    ext, custom = client.ApiextensionsV1Api(api), client.CustomObjectsApi(api)
    found: list[Obj] = []
    for ns in core.list_namespace(label_selector=sel).items:
        kind = "OperatorNamespace" if ns.metadata.name == OPERATOR_NAMESPACE else "Namespace"
        found.append(Obj(kind, ns.metadata.name, None, _labels(ns.metadata)))
    found += [Obj("Pod", p.metadata.name, p.metadata.namespace, _labels(p.metadata))
              for p in core.list_pod_for_all_namespaces(label_selector=sel).items]
    found += [Obj("ConfigMap", c.metadata.name, c.metadata.namespace, _labels(c.metadata))
              for c in core.list_config_map_for_all_namespaces(label_selector=sel).items]
    found += [Obj("ClusterRoleBinding", b.metadata.name, None, _labels(b.metadata))
              for b in rbac.list_cluster_role_binding(label_selector=sel).items]
    found += [Obj("ClusterRole", r.metadata.name, None, _labels(r.metadata))
              for r in rbac.list_cluster_role(label_selector=sel).items]
    crds = ext.list_custom_resource_definition(label_selector=sel).items
    found += [Obj("CustomResourceDefinition", c.metadata.name, None, _labels(c.metadata)) for c in crds]
    fixtures: list[Obj] = []
    if any(c.metadata.name == f"{PLURAL}.{GROUP}" for c in ext.list_custom_resource_definition().items):
        items = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
        fixtures = [Obj("ServiceFixture", i["metadata"]["name"], i["metadata"]["namespace"],
                        dict(i["metadata"].get("labels") or {})) for i in items]
        found += [f for f in fixtures if runlabels.matches(f.labels, run_id)]
    return found, fixtures


def _delete(api: client.ApiClient, obj: Obj) -> None:
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    calls: dict[str, Callable[[], object]] = {
        "ServiceFixture": lambda: client.CustomObjectsApi(api).delete_namespaced_custom_object(
            GROUP, VERSION, obj.namespace, PLURAL, obj.name),
        "Pod": lambda: core.delete_namespaced_pod(obj.name, obj.namespace),
        "ConfigMap": lambda: core.delete_namespaced_config_map(obj.name, obj.namespace),
        "Namespace": lambda: core.delete_namespace(obj.name, propagation_policy="Background"),
        "OperatorNamespace": lambda: core.delete_namespace(obj.name, propagation_policy="Background"),
        "ClusterRoleBinding": lambda: rbac.delete_cluster_role_binding(obj.name),
        "ClusterRole": lambda: rbac.delete_cluster_role(obj.name),
        "CustomResourceDefinition": lambda: client.ApiextensionsV1Api(api).delete_custom_resource_definition(obj.name),
    }
    try:
        calls[obj.kind]()
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def _fixtures_left(api: client.ApiClient, fixtures: list[Obj]) -> list[Obj]:
    custom = client.CustomObjectsApi(api)
    left = []
    for f in fixtures:
        try:
            custom.get_namespaced_custom_object(GROUP, VERSION, f.namespace, PLURAL, f.name)
            left.append(f)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
    return left


def _release_fixtures(api: client.ApiClient, fixtures: list[Obj], say: Callable[[str], None]) -> None:
    """Wait for the operator to release the deleted fixtures; when it does not (it is gone, e.g.
    its run was killed while installing it), drop the finalizers of these, proxylab's own, objects."""
    if not fixtures:
        return
    try:
        wait_for(lambda: (not (left := _fixtures_left(api, fixtures)), f"still there: {[str(f) for f in left]}"),
                 timeout=FIXTURE_RELEASE_S, what="ServiceFixtures released by the operator", interval=1.0)
    except WaitTimeout:
        for f in _fixtures_left(api, fixtures):
            client.CustomObjectsApi(api).patch_namespaced_custom_object(
                GROUP, VERSION, f.namespace, PLURAL, f.name, {"metadata": {"finalizers": None}})
            say(f"released {f} (the operator did not within {FIXTURE_RELEASE_S:.0f} s)")


def _wait_namespaces_gone(api: client.ApiClient, names: list[str]) -> list[str]:
    core = client.CoreV1Api(api)

    def left() -> list[str]:
        present = {n.metadata.name for n in core.list_namespace().items}
        return [n for n in names if n in present]

    try:
        wait_for(lambda: (not (rest := left()), f"still terminating: {rest}"), timeout=NAMESPACE_GONE_S,
                 what="proxylab's namespaces deleted", interval=2.0)
    except WaitTimeout:
        return left()
    return []


def cleanup(kubeconfig: Path, context: str | None, run_id: str | None,
            say: Callable[[str], None] = print) -> list[str]:
    """Delete proxylab's labelled objects; the lines of what was removed (and kept, and why)."""
    api = access.connect(kubeconfig, context)
    access.require_permissions(api, access.CLEANUP_PERMISSIONS, "proxylab cleanup")
    with access.explained("listing proxylab's objects", api):
        found, fixtures = inventory(api, run_id)
    chosen = plan(found, run_id, fixtures)
    lines = []
    fixtures_first = [o for o in chosen.delete if o.kind == "ServiceFixture"]
    with access.explained("deleting proxylab's objects", api):
        for obj in chosen.delete:
            if obj.kind != "ServiceFixture" and fixtures_first:  # the first object after the fixtures
                _release_fixtures(api, fixtures_first, say)
                fixtures_first = []
            _delete(api, obj)
            lines.append(f"removed {obj}")
            say(lines[-1])
        _release_fixtures(api, fixtures_first, say)  # when nothing but fixtures was deleted
        stuck = _wait_namespaces_gone(api, [o.name for o in chosen.delete if o.kind in ("Namespace",
                                                                                         "OperatorNamespace")])
    for obj, why in chosen.kept:
        lines.append(f"kept {obj}: {why}")
        say(lines[-1])
    if stuck:
        lines.append(f"still terminating after {NAMESPACE_GONE_S:.0f} s: {', '.join(stuck)}; run cleanup again later")
        say(lines[-1])
    for copy in session_copies(run_id):
        shutil.rmtree(copy, ignore_errors=True)
        lines.append(f"removed the session kubeconfig copy {copy}")
        say(lines[-1])
    if not chosen.delete and not chosen.kept:
        lines.append("nothing of proxylab's " + (f"run {run_id} " if run_id else "") + "in the cluster")
        say(lines[-1])
    return lines


def session_copies(run_id: str | None) -> list[Path]:
    """The kubeconfig copies of sessions (of ``run_id``) that did not end normally (kill -9)."""
    root = state_dir() / "existing"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (run_id is None or p.name == run_id))
