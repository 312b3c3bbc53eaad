"""Thin helpers over the docker CLI (the engine is the one dependency every step shares)."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .constants import DOCKER_QUERY_TIMEOUT_S, NODE_COMMAND_TIMEOUT_S
from .errors import CommandFailed, DockerUnavailable
from .shell import run, which

PROBE_IMAGE = "proxylab/probe:empty"
LABEL = "dev.proxylab.managed"  # every container/network/image proxylab creates carries it


def engine_version() -> str | None:
    """The engine's version, or None when no engine answers (never raises)."""
    if not which("docker"):
        return None
    try:
        res = run(["docker", "version", "--format", "{{.Server.Version}}"], check=False,
                  timeout=DOCKER_QUERY_TIMEOUT_S)
    except (CommandFailed, OSError):  # timed out, or the binary cannot be executed
        return None
    out = res.stdout.strip()
    return out if res.returncode == 0 and out and "Cannot connect" not in out else None


def require_engine() -> str:
    version = engine_version()
    if not version:
        raise DockerUnavailable(
            "no Docker engine answers (`docker version` failed). "
            "Run `sudo proxylab doctor --fix` to install and start one."
        )
    return version


def image_exists(ref: str) -> bool:
    return run(["docker", "image", "inspect", ref], check=False).returncode == 0


def image_label(ref: str, label: str) -> str | None:
    res = run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", ref], check=False)
    if res.returncode != 0:
        return None
    labels: dict[str, str] | None = json.loads(res.stdout or "null")
    return (labels or {}).get(label)


def _ensure_probe_image() -> None:
    """An empty image needs no registry; the probe bind-mounts the host's /usr for `true`."""
    if not image_exists(PROBE_IMAGE):
        empty_tar = subprocess.run(["tar", "-c", "-T", "/dev/null"], stdout=subprocess.PIPE, check=True).stdout
        run(["docker", "import", "-c", f"LABEL {LABEL}=probe", "-", PROBE_IMAGE], input=empty_tar)


def _probe(*extra: str) -> subprocess.CompletedProcess[str]:
    _ensure_probe_image()
    mounts = ["-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro"]
    return run(["docker", "run", "--rm", "--network", "none", *mounts, *extra, PROBE_IMAGE, "/usr/bin/true"],
               check=False, timeout=60)


def privileged_works() -> bool:
    """True when `docker run --privileged` starts a container on this host."""
    if not engine_version():
        return False
    return _probe("--privileged").returncode == 0


def privileged_error() -> str:
    res = _probe("--privileged")
    return "" if res.returncode == 0 else res.stdout.strip().splitlines()[-1]


def inspect(kind: str, name: str) -> list[dict[str, Any]]:
    res = run(["docker", kind, "inspect", name], check=False)
    return json.loads(res.stdout) if res.returncode == 0 else []


def container_ids(*filters: str) -> list[str]:
    """Ids of every container (running or not) matching all ``filters`` (``docker ps --filter``)."""
    args = [x for f in filters for x in ("--filter", f)]
    return run(["docker", "ps", "-aq", *args], check=False).stdout.split()


def container_id(name: str) -> str | None:
    """The full id of container ``name``, or None when there is no such container."""
    found = inspect("container", name)
    return str(found[0]["Id"]) if found else None


def exec_output(container: str, *argv: str, timeout: float = NODE_COMMAND_TIMEOUT_S) -> str:
    """``docker exec container argv...``'s standard output (stderr kept apart, so JSON stays
    parseable); CommandFailed with stderr's tail when it exits non-zero."""
    cmd = ["docker", "exec", container, *argv]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if res.returncode != 0:
        raise CommandFailed(cmd, res.returncode, res.stderr[-400:])
    return res.stdout


PIDFILE = Path("/var/run/docker.pid")  # dockerd's default --pidfile
ENGINE_SETTLE_S = 45.0  # a restarting dockerd stops its containers (10 s grace each) before it exits


def engine_process() -> str | None:
    """The local dockerd as "pid N started at tick T" (pid plus start time, so a restart that
    reuses the pid still differs), or None when there is no local pidfile (a remote engine)."""
    try:
        pid = PIDFILE.read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return f"pid {pid} started at tick {fields[19]}" if len(fields) > 19 else None


@dataclass(frozen=True)
class EngineSnapshot:
    """What a session saw of the engine and its cluster's node containers when the cluster was up."""

    engine: str | None
    nodes: dict[str, str]  # container name -> State.StartedAt ("" when not running)

    @classmethod
    def take(cls, nodes: list[str]) -> EngineSnapshot:
        return cls(engine_process(), _started_at(nodes))

    def changes(self, settle_s: float = ENGINE_SETTLE_S) -> str | None:
        """What changed since (an engine restart, a node stopped or restarted), or None.

        An engine being restarted stops every node first and changes its own pid only when the old
        daemon has exited (seconds later): when every node is down but the engine looks unchanged,
        wait up to ``settle_s`` for the engine to change, so the cause is named, not only its effect."""
        now = EngineSnapshot.take(list(self.nodes))
        all_down = bool(self.nodes) and not any(now.nodes.values())
        deadline = time.monotonic() + settle_s
        while self.engine and all_down and now.engine == self.engine and time.monotonic() < deadline:
            time.sleep(1)
            now = EngineSnapshot(engine_process(), now.nodes)
        problems = []
        if self.engine and now.engine != self.engine:
            problems.append(f"the Docker engine restarted ({self.engine} -> {now.engine or 'not running'})")
        elif all_down and self.engine:
            problems.append(f"the Docker engine ({self.engine}) stopped every node container at once")
        for node, started in self.nodes.items():
            current = now.nodes.get(node, "")
            if not current:
                problems.append(f"node container {node} is not running")
            elif current != started:
                problems.append(f"node container {node} restarted at {current}")
        return "; ".join(problems) or None


def _started_at(nodes: list[str]) -> dict[str, str]:
    """State.StartedAt of each running container of ``nodes`` ("" when stopped, absent, or no engine)."""
    if not nodes:
        return {}
    try:
        res = run(["docker", "inspect", "--format", "{{.Name}} {{.State.Running}} {{.State.StartedAt}}", *nodes],
                  check=False, timeout=DOCKER_QUERY_TIMEOUT_S)
    except CommandFailed:  # the engine did not answer in time
        return dict.fromkeys(nodes, "")
    found = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "true":
            found[parts[0].lstrip("/")] = parts[2]
    return {n: found.get(n, "") for n in nodes}
