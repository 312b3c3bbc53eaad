"""Reaching a cluster through a user's kubeconfig, and saying in one line why it did not work.

A cluster proxylab did not create is reached through a kubeconfig (and optionally one of its
contexts). What can go wrong there is the user's to fix: a file or context that does not exist,
an API server that does not answer, a credential the server rejects (expired token, wrong
certificate), RBAC that forbids a step. Each becomes a ``ClusterAccessError`` whose message names
what is missing and what to grant or change, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from .errors import ProxylabError

REQUEST_TIMEOUT_S = 15  # a first request to an API server that does not answer fails within this


class ClusterAccessError(ProxylabError):
    """The cluster behind a kubeconfig cannot be used: unreachable, credential rejected, forbidden."""


@dataclass(frozen=True)
class Permission:
    """One RBAC rule proxylab needs: ``verb`` on ``resource`` of API group ``group``."""

    verb: str
    resource: str
    group: str = ""
    namespaced: bool = False  # checked at cluster scope unless namespaced (then in any namespace)

    def rule(self) -> str:
        return f'{{apiGroups: ["{self.group}"], resources: ["{self.resource}"], verbs: ["{self.verb}"]}}'


_FORBIDDEN_RE = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>[\w-]+) resource "(?P<resource>[^"]+)"'
    r'(?: in API group "(?P<group>[^"]*)")?(?: in the namespace "(?P<ns>[^"]*)"| at the cluster scope)?')


def forbidden_permission(body: str | None) -> tuple[str, Permission, str | None] | None:
    """(user, permission, namespace) out of a 403 answer's message, None when it names none."""
    m = _FORBIDDEN_RE.search(_message(body))
    if m is None:
        return None
    return m["user"], Permission(m["verb"], m["resource"], m["group"] or "", m["ns"] is not None), m["ns"]


def _message(body: str | None) -> str:
    """The ``message`` of a Kubernetes Status answer (the body itself when it is not one)."""
    try:
        doc = json.loads(body or "")
    except ValueError:
        return body or ""
    return str(doc.get("message") or body) if isinstance(doc, dict) else (body or "")


def _server(api: client.ApiClient | None) -> str:
    return str(api.configuration.host) if api is not None else "the API server"


def explain(exc: BaseException, step: str, api: client.ApiClient | None = None) -> str | None:
    """One line for an access error of ``step`` (None when ``exc`` is not one: a real bug)."""
    server = _server(api)
    if isinstance(exc, client.ApiException):
        if exc.status == 401:
            return (f"{step}: {server} rejected the kubeconfig's credential (401 Unauthorized): it is expired or "
                    "invalid; refresh it (e.g. log in again or regenerate the kubeconfig) and retry")
        if exc.status == 403:
            found = forbidden_permission(exc.body)
            if found is None:
                return f"{step}: forbidden by {server} (403): {_short(_message(exc.body))}; grant the permission it names"
            user, perm, ns = found
            where = f"in namespace {ns}" if ns else "at cluster scope"
            return (f"{step}: RBAC forbids user {user!r} to {perm.verb} {perm.resource} {where}; grant it with a "
                    f"ClusterRole rule {perm.rule()} (the README's 'Existing clusters' lists all proxylab needs)")
        return None
    if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
        return (f"{step}: the API server at {server} is unreachable ({_reason(exc)}); check that the cluster is "
                "running and that this host can reach that address (kubeconfig, VPN, firewall)")
    if isinstance(exc, ConfigException):
        return f"{step}: the kubeconfig cannot be used: {_short(str(exc))}"
    return None


def _reason(exc: BaseException) -> str:
    """The innermost cause of a connection error ("Connection refused"), not urllib3's wrapping."""
    reason = getattr(exc, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else exc)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return m[1].strip() if m else _short(text, 160)


def _short(text: str | None, limit: int = 200) -> str:
    one = " ".join((text or "").split())
    return one if len(one) <= limit else one[:limit] + "..."


@contextlib.contextmanager
def explained(step: str, api: client.ApiClient | None = None) -> Iterator[None]:
    """Turn access errors raised inside into ClusterAccessError with a one-line message."""
    try:
        yield
    except ClusterAccessError:
        raise
    except Exception as exc:
        message = explain(exc, step, api)
        if message is None:
            raise
        raise ClusterAccessError(message) from None


def contexts(kubeconfig: Path) -> tuple[list[str], str | None, dict[str, Any]]:
    """(context names, current-context, the parsed document) of ``kubeconfig``; ClusterAccessError
    when the file is missing or is no kubeconfig."""
    try:
        doc = yaml.safe_load(kubeconfig.read_text())
    except OSError as exc:
        raise ClusterAccessError(f"kubeconfig {kubeconfig} cannot be read: {exc.strerror or exc}; "
                                 "pass --kubeconfig with the path of an existing kubeconfig file") from None
    except yaml.YAMLError as exc:
        raise ClusterAccessError(f"kubeconfig {kubeconfig} is not valid YAML: {_short(str(exc))}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("contexts"), list):
        raise ClusterAccessError(f"{kubeconfig} is not a kubeconfig (no 'contexts' list)")
    names = [str(c.get("name")) for c in doc["contexts"] if isinstance(c, dict) and c.get("name")]
    current = doc.get("current-context")
    return names, str(current) if current else None, doc


def choose_context(kubeconfig: Path, context: str | None) -> str:
    """The context to use: ``context`` if the kubeconfig has it, else its current-context."""
    names, current, _ = contexts(kubeconfig)
    wanted = context or current
    if not wanted:
        raise ClusterAccessError(f"kubeconfig {kubeconfig} has no current-context; pass --context, one of: "
                                 f"{', '.join(names) or '(none: the file lists no contexts)'}")
    if wanted not in names:
        raise ClusterAccessError(f"context {wanted!r} does not exist in {kubeconfig}; its contexts: "
                                 f"{', '.join(names) or 'none'}")
    return wanted


_FILE_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


def minified(kubeconfig: Path, context: str) -> dict[str, Any]:
    """The kubeconfig reduced to ``context`` (its cluster and user), which becomes current, with
    relative file paths made absolute: `kubectl config view --minify --context` without kubectl.
    Everything in the session reads this one file, so kubectl and the client agree on the cluster."""
    _, _, doc = contexts(kubeconfig)
    ctx = next(c for c in doc["contexts"] if c.get("name") == context)
    cluster_name = (ctx.get("context") or {}).get("cluster")
    user_name = (ctx.get("context") or {}).get("user")
    base = kubeconfig.resolve().parent

    def pick(section: str, name: str | None, key: str) -> list[dict[str, Any]]:
        found = [dict(e) for e in doc.get(section) or [] if isinstance(e, dict) and e.get("name") == name]
        for entry in found:
            body = dict(entry.get(key) or {})
            for k in _FILE_KEYS:
                if isinstance(body.get(k), str) and not os.path.isabs(body[k]):
                    body[k] = str(base / body[k])
            entry[key] = body
        return found

    return {"apiVersion": "v1", "kind": "Config", "current-context": context, "contexts": [ctx],
            "clusters": pick("clusters", cluster_name, "cluster"), "users": pick("users", user_name, "user"),
            "preferences": {}}


def write_minified(kubeconfig: Path, context: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(minified(kubeconfig, context), fh)
    return dest


def connect(kubeconfig: Path, context: str | None = None) -> client.ApiClient:
    """An API client for ``context`` of ``kubeconfig`` whose first request has succeeded (the
    server's version), or ClusterAccessError saying which of file, context, address, credential
    is the problem."""
    chosen = choose_context(kubeconfig, context)
    step = f"connecting with context {chosen!r} of {kubeconfig}"
    with explained(step):
        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), context=chosen, client_configuration=cfg,
                                persist_config=False)
        cfg.retries = 1  # an address that refuses is said so in a second, not after urllib3's backoff
        api = client.ApiClient(cfg)
    if not cfg.verify_ssl:  # the kubeconfig says insecure-skip-tls-verify: the user's choice, said once
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    with explained(step, api):
        client.VersionApi(api).get_code(_request_timeout=REQUEST_TIMEOUT_S)
    return api


# What a run needs on a cluster it did not create (the operator's own ClusterRole, which it creates,
# is in operators/fixture/manifests/rbac.yaml: creating it needs at least those rights too).
RUN_PERMISSIONS: tuple[Permission, ...] = (
    Permission("list", "nodes"),
    Permission("create", "namespaces"), Permission("delete", "namespaces"), Permission("list", "namespaces"),
    Permission("create", "customresourcedefinitions", "apiextensions.k8s.io"),
    Permission("patch", "customresourcedefinitions", "apiextensions.k8s.io"),
    Permission("create", "clusterroles", "rbac.authorization.k8s.io"),
    Permission("create", "clusterrolebindings", "rbac.authorization.k8s.io"),
    Permission("create", "servicefixtures", "proxylab.dev", namespaced=True),
    Permission("delete", "servicefixtures", "proxylab.dev", namespaced=True),
    Permission("create", "pods", namespaced=True), Permission("create", "pods/exec", namespaced=True),
    Permission("create", "services", namespaced=True), Permission("create", "deployments", "apps", namespaced=True),
    Permission("list", "endpointslices", "discovery.k8s.io", namespaced=True),
)
# What `proxylab cleanup` needs: find and delete what carries proxylab's labels.
CLEANUP_PERMISSIONS: tuple[Permission, ...] = (
    Permission("list", "namespaces"), Permission("delete", "namespaces"),
    Permission("list", "customresourcedefinitions", "apiextensions.k8s.io"),
    Permission("delete", "customresourcedefinitions", "apiextensions.k8s.io"),
    Permission("list", "clusterroles", "rbac.authorization.k8s.io"),
    Permission("delete", "clusterroles", "rbac.authorization.k8s.io"),
    Permission("list", "clusterrolebindings", "rbac.authorization.k8s.io"),
    Permission("delete", "clusterrolebindings", "rbac.authorization.k8s.io"),
)


def missing_permissions(api: client.ApiClient, needed: tuple[Permission, ...]) -> list[Permission]:
    """The permissions of ``needed`` the kubeconfig's user does not have (SelfSubjectAccessReview,
    which every authenticated user may create): asked before anything is created, so a run that
    would be forbidden halfway leaves nothing behind."""
    authz = client.AuthorizationV1Api(api)
    missing = []
    for perm in needed:
        sub = perm.resource.split("/", 1)
        attrs = client.V1ResourceAttributes(verb=perm.verb, group=perm.group, resource=sub[0],
                                            subresource=sub[1] if len(sub) > 1 else None)
        review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs))
        with explained("checking permissions", api):
            answer = authz.create_self_subject_access_review(review)
        if not answer.status.allowed:
            missing.append(perm)
    return missing


def require_permissions(api: client.ApiClient, needed: tuple[Permission, ...], what: str) -> None:
    missing = missing_permissions(api, needed)
    if missing:
        rules = "; ".join(p.rule() for p in missing)
        raise ClusterAccessError(f"{what} needs permissions the kubeconfig's user lacks: {rules}. Grant them with a "
                                 "ClusterRole bound to that user (the README's 'Existing clusters' lists them all)")
