"""Kernel settings that kind clusters need on the host (kind's "known issues": every node's
kubelet and systemd take inotify instances, and the default 128 runs out at 2-3 clusters with
`inotify_init: too many open files`)."""

from __future__ import annotations

from pathlib import Path

REQUIRED: dict[str, int] = {
    "fs/inotify/max_user_instances": 512,
    "fs/inotify/max_user_watches": 524288,
}


def current(key: str) -> int:
    return int(Path("/proc/sys", key).read_text().split()[0])


def missing() -> dict[str, tuple[int, int]]:
    """key -> (current, required) for every setting below what clusters need."""
    return {k: (current(k), v) for k, v in REQUIRED.items() if current(k) < v}


def raise_limits() -> list[str]:
    """Raise what is too low (never lower anything); returns one line per change."""
    changes = []
    for key, (now, want) in missing().items():
        Path("/proc/sys", key).write_text(str(want))
        changes.append(f"raised {key.replace('/', '.')} from {now} to {want} (kind nodes need inotify instances)")
    return changes
