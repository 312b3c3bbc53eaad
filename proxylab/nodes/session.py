"""How a test session reaches nodes: the choice (pure, unit-tested) and the agent's lifetime."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from kubernetes import client

from . import DOCKER, NodeAccess, use
from . import agent as agent_mod

CHOICES = ("agent", "docker")


@dataclass(frozen=True)
class Choice:
    """What the session does: reach nodes through ``via`` ("agent"/"docker"), or skip with ``skip``."""

    via: str | None
    skip: str | None = None


def choose(requested: str, *, ours: bool, allow_agent: bool) -> Choice:
    """The node access for a session (pure).

    ``ours``: proxylab created the cluster (kind, nodes are this host's containers), so the agent
    is always allowed there and ``docker`` is possible. On any other cluster the privileged agent
    needs the user's ``--allow-node-agent``; without it, tests that reach nodes are skipped."""
    if requested not in CHOICES:
        raise ValueError(f"--node-access {requested!r}: use one of {', '.join(CHOICES)}")
    if requested == "docker":
        if not ours:
            return Choice(None, "--node-access docker reaches kind nodes proxylab created on this host's "
                                "engine only; use the node agent (--allow-node-agent) on this cluster")
        return Choice("docker")
    if not ours and not allow_agent:
        return Choice(None, "reading nodes needs proxylab's privileged node agent (a DaemonSet, hostNetwork + "
                            "hostPID, removed at the end) on a cluster proxylab did not create: pass "
                            "--allow-node-agent to allow it (README: RBAC)")
    return Choice("agent")


@contextmanager
def session_access(choice: Choice, api: client.ApiClient, image: str, run_id: str, nodes: Sequence[str],
                   ttl_s: float = agent_mod.DEFAULT_TTL_S) -> Iterator[NodeAccess]:
    """Install what ``choice`` needs, make it the process's node access, remove it afterwards."""
    if choice.via == "docker":
        with use(DOCKER) as access:
            yield access
        return
    access = agent_mod.install(api, image, run_id, nodes, ttl_s=ttl_s)
    try:
        with use(access):
            yield access
    finally:
        agent_mod.remove(api, wait=False)
