"""Kernel settings that kind clusters need on the host, raised by `cluster up` (never lowered).

- inotify (kind's "known issues"): every node's kubelet and systemd take inotify instances, and
  the default 128 runs out at 2-3 clusters with `inotify_init: too many open files`.
- conntrack: the kind nodes are containers on one Docker bridge, and with br_netfilter (which
  Docker loads) every connection between two nodes is also tracked in the host's own conntrack
  table, for 120 s after it closes (TIME_WAIT). A new-connection benchmark at ~11,000
  connections/s filled the default 262,144 entries within a run; the host then dropped new SYNs
  ("nf_conntrack: table full, dropping packet") and the rate fell from 11,000 to 54 req/s
  (measured on ebpf, 2026-12-02). On a real cluster no host sits between the nodes; kube-proxy
  sizes a node's own table the same way (conntrack.maxPerCore).
"""

from __future__ import annotations

from pathlib import Path

REQUIRED: dict[str, tuple[int, str]] = {
    "fs/inotify/max_user_instances": (512, "kind nodes need inotify instances"),
    "fs/inotify/max_user_watches": (524288, "kind nodes need inotify watches"),
    "net/netfilter/nf_conntrack_max": (1_048_576, "connections between kind nodes are tracked on this host too; "
                                                  "new-connection benchmarks filled the default table"),
}


def current(key: str) -> int | None:
    """The setting's value, or None where this kernel has no such setting (e.g. conntrack not loaded)."""
    path = Path("/proc/sys", key)
    return int(path.read_text().split()[0]) if path.exists() else None


def missing() -> dict[str, tuple[int, int]]:
    """key -> (current, required) for every setting below what clusters need."""
    out = {}
    for key, (want, _why) in REQUIRED.items():
        now = current(key)
        if now is not None and now < want:
            out[key] = (now, want)
    return out


def raise_limits() -> list[str]:
    """Raise what is too low (never lower anything); returns one line per change."""
    changes = []
    for key, (now, want) in missing().items():
        Path("/proc/sys", key).write_text(str(want))
        changes.append(f"raised {key.replace('/', '.')} from {now} to {want} ({REQUIRED[key][1]})")
    return changes
