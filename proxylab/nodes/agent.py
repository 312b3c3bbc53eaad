"""The node agent: a privileged, time-limited DaemonSet that lets proxylab run commands on nodes
through the Kubernetes API (no ``docker exec``, so also on a cluster whose nodes are not local
containers).

One pod per node, in a namespace proxylab creates for it and deletes afterwards. The pod shares the
node's network and PID namespaces (hostNetwork, hostPID) and is privileged, so a command exec'd
into it as ``nsenter -t 1 -m -u -n -i -p -- argv`` runs in the node's own mount, UTS, network, IPC
and PID namespaces: the node's iptables-save, nft, ipvsadm, crictl and curl, against the node's
kernel state. The image is proxylab's locust image (Debian, util-linux's nsenter), which every
cluster proxylab prepares already has; the agent adds no image of its own.

Time-limited: the container sleeps until the expiry written into the DaemonSet (its annotation
:data:`EXPIRES_ANNOTATION` and the container's ``EXPIRES_AT``), then exits; a restarted container
sees the expiry passed and exits at once, so a DaemonSet left behind by a killed session stops
being usable by itself (``proxylab cleanup`` or :func:`remove` deletes it). :class:`AgentNodeAccess`
refuses commands after the expiry too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from .. import kube, runlabels
from ..constants import NODE_COMMAND_TIMEOUT_S
from ..errors import ClusterError
from ..wait import wait_for
from . import NodeResult, checked

NAMESPACE = "proxylab-node-agent"
NAME = "proxylab-node-agent"
CONTAINER = "agent"
MANAGED_BY = {"app.kubernetes.io/managed-by": "proxylab"}
EXPIRES_ANNOTATION = "proxylab.io/expires-at"  # epoch seconds, UTC
DEFAULT_TTL_S = 2 * 3600
MAX_TTL_S = 24 * 3600
# The node's PATH, not the image's (an exec inherits the container's environment, and the locust
# image's PATH has no /usr/sbin, where iptables-save, nft and ipvsadm are).
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NSENTER = ("nsenter", "-t", "1", "-m", "-u", "-n", "-i", "-p", "--", "env", f"PATH={NODE_PATH}")
# The container's whole program: sleep until the expiry, then exit (exit at once once it is past).
SLEEP_UNTIL_EXPIRY = ('now=$(date +%s); if [ "$now" -ge "$EXPIRES_AT" ]; then '
                      'echo "proxylab node agent expired at $EXPIRES_AT"; exit 0; fi; '
                      'exec sleep $((EXPIRES_AT - now))')

# What the agent adds to the RBAC the rest of proxylab needs (README "RBAC"): creating and deleting
# its namespace and DaemonSet, finding its pods, and exec into them.
AGENT_RBAC: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create", "get", "delete"]},
    {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["create", "get", "list", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
]


def expiry(now: float, ttl_s: float) -> int:
    """The epoch second the agent stops at, ``ttl_s`` after ``now`` (pure). The TTL must be
    positive and at most :data:`MAX_TTL_S`: a privileged pod on someone's nodes must not linger."""
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"node agent TTL {ttl_s:g}s is outside (0, {MAX_TTL_S}] seconds")
    return int(now + ttl_s)


def remaining_s(expires_at: int, now: float) -> float:
    """Seconds the agent has left at ``now`` (0 once it has expired; pure)."""
    return max(0.0, expires_at - now)


def manifests(image: str, run_id: str, expires_at: int) -> list[dict[str, Any]]:
    """The agent's namespace and DaemonSet (pure): one privileged pod per node, every taint
    tolerated, no service account token, sleeping until ``expires_at``."""
    labels = {**MANAGED_BY, **runlabels.labels(run_id)}  # `proxylab cleanup --run-id` finds it by this
    selector = {"app.kubernetes.io/name": NAME}
    ns = {"apiVersion": "v1", "kind": "Namespace",
          "metadata": {"name": NAMESPACE, "annotations": {EXPIRES_ANNOTATION: str(expires_at)},
                       "labels": {**labels, "pod-security.kubernetes.io/enforce": "privileged"}}}
    container = {
        "name": CONTAINER, "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", SLEEP_UNTIL_EXPIRY],
        "env": [{"name": "EXPIRES_AT", "value": str(expires_at)}],
        "securityContext": {"privileged": True, "runAsUser": 0, "runAsNonRoot": False},
        "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}},
    }
    pod_spec = {"hostNetwork": True, "hostPID": True, "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 1, "tolerations": [{"operator": "Exists"}],
                "containers": [container]}
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
          "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {**labels, **selector},
                       "annotations": {EXPIRES_ANNOTATION: str(expires_at)}},
          "spec": {"selector": {"matchLabels": selector},
                   "template": {"metadata": {"labels": {**labels, **selector},
                                             "annotations": {EXPIRES_ANNOTATION: str(expires_at)}},
                                "spec": pod_spec}}}
    return [ns, ds]


def nsenter_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped to run in the node's namespaces from the agent pod (pure)."""
    return [*NSENTER, *argv]


def _forbidden(exc: ApiException, step: str, rule: str) -> ClusterError:
    return ClusterError(f"the node agent could not {step}: the API answered {exc.status} {exc.reason}; "
                        f"grant {rule} (README: RBAC), or run without --allow-node-agent")


@dataclass
class AgentNodeAccess:
    """Commands on nodes through the Kubernetes exec API into the agent pod on each node."""

    api: client.ApiClient
    expires_at: int
    pods: dict[str, str] = field(default_factory=dict)  # node -> agent pod
    name: str = "agent"

    def refresh(self) -> dict[str, str]:
        """Node -> the agent pod Ready on it now."""
        items = client.CoreV1Api(self.api).list_namespaced_pod(
            NAMESPACE, label_selector=f"app.kubernetes.io/name={NAME}").items
        self.pods = {p.spec.node_name: p.metadata.name for p in items
                     if p.metadata.deletion_timestamp is None and p.spec.node_name and
                     any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))}
        return self.pods

    def call(self, node: str, argv: Sequence[str], timeout: float = NODE_COMMAND_TIMEOUT_S) -> NodeResult:
        if remaining_s(self.expires_at, time.time()) <= 0:
            return NodeResult(-1, "", f"the proxylab node agent expired at {self.expires_at} (epoch s); "
                                      "start a new session to install it again")
        pod = self.pods.get(node) or self.refresh().get(node)
        if pod is None:
            return NodeResult(-1, "", f"no Ready node agent pod on {node}; see `kubectl -n {NAMESPACE} get pods -o wide`")
        try:
            res = kube.exec_in_pod(self.api, NAMESPACE, pod, nsenter_argv(argv), timeout=timeout, container=CONTAINER)
        except TimeoutError as exc:
            return NodeResult(-1, "", str(exc))
        except (ApiException, ValueError) as exc:
            # The pod was replaced (ApiException), or its container is not running: the client's
            # exit-code parsing raises ValueError on "container not found". Look it up again next time.
            self.pods.pop(node, None)
            what = f"{exc.status} {exc.reason}" if isinstance(exc, ApiException) else str(exc)
            return NodeResult(-1, "", f"exec into node agent {NAMESPACE}/{pod} on {node} failed: {what}; "
                                      f"see `kubectl -n {NAMESPACE} get pods -o wide`")
        return NodeResult(res.returncode, res.stdout, res.stderr)

    def run(self, node: str, argv: Sequence[str], timeout: float = NODE_COMMAND_TIMEOUT_S) -> str:
        return checked(self, node, argv, timeout)


def _namespace_gone(core: client.CoreV1Api) -> tuple[bool, str]:
    try:
        ns = core.read_namespace(NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return True, "gone"
        raise
    return False, f"namespace {NAMESPACE} is {ns.status.phase}"


def remove(api: client.ApiClient, wait: bool = True, timeout: float = 120) -> bool:
    """Delete the agent's namespace (and with it its DaemonSet and pods); True when there was one.
    Only a namespace proxylab labelled as its own is deleted."""
    core = client.CoreV1Api(api)
    try:
        ns = core.read_namespace(NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise _forbidden(exc, f"read namespace {NAMESPACE}", "get on namespaces") from None
    if (ns.metadata.labels or {}).get("app.kubernetes.io/managed-by") != "proxylab":
        raise ClusterError(f"namespace {NAMESPACE} exists but is not labelled app.kubernetes.io/managed-by=proxylab; "
                           "proxylab leaves it alone: delete or rename it yourself")
    try:
        core.delete_namespace(NAMESPACE, propagation_policy="Background")
    except ApiException as exc:
        if exc.status not in (404, 409):  # 409: already terminating (a session that did not wait)
            raise _forbidden(exc, f"delete namespace {NAMESPACE}", "delete on namespaces") from None
    if wait:
        wait_for(lambda: _namespace_gone(core), timeout=timeout, what=f"namespace {NAMESPACE} deleted", interval=1)
    return True


def _ready(api: client.ApiClient, nodes: Sequence[str], access: AgentNodeAccess) -> tuple[bool, str]:
    ds = client.AppsV1Api(api).read_namespaced_daemon_set(NAME, NAMESPACE)
    st = ds.status
    pods = access.refresh()
    missing = [n for n in nodes if n not in pods]
    return not missing and bool(st.desired_number_scheduled), \
        f"{st.number_ready or 0}/{st.desired_number_scheduled or 0} agent pods Ready; none yet on {missing}"


def install(api: client.ApiClient, image: str, run_id: str, nodes: Sequence[str], ttl_s: float = DEFAULT_TTL_S,
            timeout: float = 180) -> AgentNodeAccess:
    """Create the agent (replacing one a previous session left) and wait until it is Ready on every
    one of ``nodes``; ClusterError naming the permission when RBAC refuses a step."""
    expires_at = expiry(time.time(), ttl_s)
    remove(api)
    ns, ds = manifests(image, run_id, expires_at)
    try:
        client.CoreV1Api(api).create_namespace(ns)
    except ApiException as exc:
        raise _forbidden(exc, f"create namespace {NAMESPACE}", "create on namespaces") from None
    try:
        client.AppsV1Api(api).create_namespaced_daemon_set(NAMESPACE, ds)
    except ApiException as exc:
        remove(api, wait=False)
        raise _forbidden(exc, f"create DaemonSet {NAMESPACE}/{NAME}", f"create on daemonsets.apps in {NAMESPACE}") \
            from None
    access = AgentNodeAccess(api, expires_at)
    try:
        wait_for(lambda: _ready(api, nodes, access), timeout=timeout, what="node agent Ready on every node",
                 interval=1)
    except Exception:
        remove(api, wait=False)
        raise
    return access
