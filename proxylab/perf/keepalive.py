"""A long-lived HTTP keep-alive client, and what its samples say about a disruption.

The echo probe's ``series`` opens a new connection per request (every request is balanced by the
proxy's current rules); a user's long-lived connection is the other half of a proxy restart's
story: its conntrack entry (or Cilium's socket-level choice) was made by the old proxy. The echo
binary has no keep-alive client, so :data:`CLIENT` (standard library only) runs with ``python3 -c``
in the load-generator image (proxylab/locust, which has Python): one ``http.client`` connection,
a GET every interval; after a failure it reconnects. Each sample is ``[epoch_ms, pod or "!kind",
local port]``: the local port names the connection, so a reconnect shows as a new port.

The analysis (:func:`analyse`) is pure and shared with the new-connection ``echo series`` samples.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..convergence import Sample

CLIENT = r'''
import errno, http.client, json, socket, sys, time
host = sys.argv[1]
port, duration_ms, interval_ms, timeout_ms = (int(a) for a in sys.argv[2:6])
def kind(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)): return "timeout"
    if isinstance(exc, ConnectionRefusedError): return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                        http.client.IncompleteRead)): return "reset"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH): return "unreachable"
    if isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT: return "timeout"
    return "other:" + type(exc).__name__
conn = http.client.HTTPConnection(host, port, timeout=timeout_ms / 1000)
start = time.time()
samples = []
i = 0
while (time.time() - start) * 1000 < duration_ms:
    i += 1
    t = int(time.time() * 1000)
    lport = 0
    try:
        conn.request("GET", "/")
        lport = conn.sock.getsockname()[1]
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            who = "!http_%d" % resp.status
        else:
            try:
                who = json.loads(body)["pod"]
            except (ValueError, KeyError):
                who = "!bad_answer"
    except Exception as exc:
        who = "!" + kind(exc)
        conn.close()
    samples.append([t, who, lport])
    time.sleep(max(0.0, start + i * interval_ms / 1000 - time.time()))
conn.close()
print(json.dumps({"started": int(start * 1000), "samples": samples}))
'''


@dataclass(frozen=True)
class Disruption:
    """What a probe saw around a change at ``change_ms``."""

    samples: int
    failed: int
    failed_by_kind: dict[str, int]
    longest_gap_s: float  # longest time between two consecutive answers (or from the first sample)
    last_failure_s: float | None  # after the change; None: none failed after it

    def as_metrics(self, prefix: str) -> dict[str, Any]:
        return {f"{prefix}_requests": self.samples, f"{prefix}_failed_requests": self.failed,
                f"{prefix}_failed_by_kind": self.failed_by_kind, f"{prefix}_longest_gap_s": self.longest_gap_s,
                f"{prefix}_last_failure_s": self.last_failure_s}


def analyse(samples: Sequence[Sample], change_ms: float) -> Disruption:
    """Failures by kind and the longest gap between answers over the whole series (sorted by time)."""
    ordered = sorted(samples)
    kinds: dict[str, int] = {}
    for s in ordered:
        if s.kind is not None:
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
    answers = [s.t_ms for s in ordered if not s.failed]
    edges = [ordered[0].t_ms, *answers] if ordered else []
    if ordered and ordered[-1].failed:
        edges.append(ordered[-1].t_ms)  # a series ending in failures: the gap runs to its end
    gap = max((b - a for a, b in itertools.pairwise(edges)), default=0.0)
    late = [s.t_ms for s in ordered if s.failed and s.t_ms >= change_ms]
    return Disruption(len(ordered), sum(kinds.values()), kinds, round(gap / 1000, 3),
                      round((late[-1] - change_ms) / 1000, 3) if late else None)


def connections(raw: Sequence[Sequence[Any]]) -> list[int]:
    """The local ports of a keep-alive series' answered requests, in order, without repeats: one
    entry per connection that answered (a reconnect adds one)."""
    ports: list[int] = []
    for _, who, port in sorted(raw, key=lambda r: float(r[0])):
        if not str(who).startswith("!") and (not ports or ports[-1] != int(port)):
            ports.append(int(port))
    return ports


def survived(raw: Sequence[Sequence[Any]], change_ms: float, after_ms: float) -> bool:
    """Whether the connection that answered last before ``change_ms`` answered every request from
    then on (no failure, no reconnect), at least once at or after ``after_ms`` (e.g. the moment
    the restarted proxy had resynced)."""
    rows = sorted(((float(t), str(who), int(port)) for t, who, port in raw), key=lambda r: r[0])
    before = [port for t, who, port in rows if t < change_ms and not who.startswith("!")]
    later = [(t, who, port) for t, who, port in rows if t >= change_ms]
    if not before:
        return False
    same = all(not who.startswith("!") and port == before[-1] for _, who, port in later)
    return same and any(t >= after_ms for t, _, _ in later)
