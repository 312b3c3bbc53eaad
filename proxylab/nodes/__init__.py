"""One way to run a command on a cluster node, whichever way the node is reached.

The suites and the modes read a node's dataplane (iptables-save, nft, ipvsadm), the proxy's own
endpoints on the node's loopback and the proxy container's resource use (crictl) through a
:class:`NodeAccess`. Two implementations:

- :class:`DockerNodeAccess`: ``docker exec`` into the kind node container. Only possible where the
  nodes are containers of this host's engine; cluster creation uses it (pod networking and Cilium
  are installed before the API can run a pod).
- :class:`proxylab.nodes.agent.AgentNodeAccess`: the Kubernetes exec API into a privileged,
  time-limited agent pod on the node (``proxylab/nodes/agent.py``), which enters the node's
  namespaces with ``nsenter``. It works on any cluster the credentials allow it on; the test
  session uses it on kind too, so there is one way to reach a node.

Which one the session uses is process-wide (:func:`current`, :func:`use`): the proxy modes
(proxylab/modes/) ask :func:`current` instead of taking one more argument in every method, and it
stays :class:`DockerNodeAccess` outside a test session that installed the agent.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..constants import NODE_COMMAND_TIMEOUT_S
from ..errors import CommandFailed


@dataclass(frozen=True)
class NodeResult:
    """A finished command on a node: its exit code and both streams (kept apart, so JSON parses)."""

    returncode: int
    stdout: str
    stderr: str


@runtime_checkable
class NodeAccess(Protocol):
    """Runs commands on cluster nodes (named as Kubernetes names them; on kind also the container)."""

    name: str  # how nodes are reached ("docker", "agent"), for results.json and skip reasons

    def call(self, node: str, argv: Sequence[str], timeout: float = NODE_COMMAND_TIMEOUT_S) -> NodeResult:
        """Run ``argv`` on ``node``; its exit code and output, whatever the exit code."""
        ...

    def run(self, node: str, argv: Sequence[str], timeout: float = NODE_COMMAND_TIMEOUT_S) -> str:
        """``argv``'s standard output on ``node``; CommandFailed with stderr's tail when it fails."""
        ...


def checked(access: NodeAccess, node: str, argv: Sequence[str], timeout: float) -> str:
    """:meth:`NodeAccess.run` in terms of :meth:`NodeAccess.call` (shared by the implementations)."""
    res = access.call(node, argv, timeout)
    if res.returncode != 0:
        raise CommandFailed(list(argv), res.returncode, res.stderr[-400:] or res.stdout[-400:],
                            hint=f"on node {node} (through {access.name})")
    return res.stdout


class DockerNodeAccess:
    """``docker exec`` into the node container (kind nodes on this host's engine)."""

    name = "docker"

    def call(self, node: str, argv: Sequence[str], timeout: float = NODE_COMMAND_TIMEOUT_S) -> NodeResult:
        cmd = ["docker", "exec", node, *argv]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return NodeResult(-1, "", f"{' '.join(argv)} did not finish on {node} within {timeout:g}s")
        return NodeResult(res.returncode, res.stdout, res.stderr)

    def run(self, node: str, argv: Sequence[str], timeout: float = NODE_COMMAND_TIMEOUT_S) -> str:
        return checked(self, node, argv, timeout)


DOCKER = DockerNodeAccess()
_lock = threading.Lock()
_current: NodeAccess = DOCKER


def current() -> NodeAccess:
    """How this process reaches nodes now (:data:`DOCKER` unless :func:`use` set another)."""
    return _current


@contextmanager
def use(access: NodeAccess) -> Iterator[NodeAccess]:
    """Reach nodes through ``access`` until the block ends (then the previous way again)."""
    global _current
    with _lock:
        previous, _current = _current, access
    try:
        yield access
    finally:
        with _lock:
            _current = previous
