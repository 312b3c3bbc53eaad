"""Which process owns a cluster, so that one left by a killed run is recognised and removed.

A run that is killed with SIGKILL (a cancelled CI job, the OOM killer, a closed terminal) cannot
clean up after itself: its kind cluster, guard routes and state stay behind, and the next run
with the same cluster name would stop at "a kind cluster named ... already exists". To tell such a
leftover from a cluster someone is using, the process that creates a cluster records itself in
the cluster's state directory (``owner.json``: pid and the process's start time, so a recycled pid
is not mistaken for the owner). A cluster is *stale* when its recorded owner no longer runs.

A cluster that is meant to outlive its creator (``proxylab cluster up``, pytest
``--keep-cluster``) is released once it is up: it then has no owner and is never removed
automatically (nor is a finished cluster made by an older proxylab, which recorded no owner). A
cluster whose creation never finished and that has no living owner is stale, and so is one with
no proxylab state at all (proxylab writes the owner before it asks kind to create anything).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

OWNER_FILE = "owner.json"


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), None if
    no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if not fields or fields[0] in ("Z", "X"):
        # Killed but not yet reaped (a zombie keeps its /proc entry until its parent, or an init
        # that may never come in a container, waits for it): it runs no more.
        return None
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class Owner:
    pid: int
    start_time: str

    def alive(self) -> bool:
        return start_time(self.pid) == self.start_time


def claim(state: Path, pid: int | None = None) -> Owner:
    """Record the calling process (or ``pid``) as the owner of the cluster whose state is ``state``."""
    pid = os.getpid() if pid is None else pid
    start = start_time(pid)
    if start is None:
        raise ValueError(f"no process {pid}")
    owner = Owner(pid, start)
    state.mkdir(parents=True, exist_ok=True)
    (state / OWNER_FILE).write_text(json.dumps({"pid": owner.pid, "start_time": owner.start_time}))
    return owner


def release(state: Path) -> None:
    """The cluster is meant to outlive its creator: it has no owner from now on."""
    (state / OWNER_FILE).unlink(missing_ok=True)


def stale_reason(state: Path | None) -> str | None:
    """Why the cluster with state directory ``state`` is left over from a killed run, or None when
    it is in use or was kept on purpose."""
    if state is None or not state.is_dir():
        return "it has no proxylab state (its creator was killed before writing any)"
    path = state / OWNER_FILE
    try:
        raw = json.loads(path.read_text())
        owner = Owner(int(raw["pid"]), str(raw["start_time"]))
    except FileNotFoundError:
        if (state / "cluster.json").exists():
            return None  # up and released (kept on purpose), or made by an older proxylab
        return "its creation never finished and no process owns it"
    except (OSError, ValueError, KeyError, TypeError):
        return None  # cannot tell who owns it: never remove it automatically
    if owner.alive():
        return None
    return f"the process that created it (pid {owner.pid}) no longer runs"
