"""In-pod probe for the performance suite: stdlib only, run as ``python3 -c <this file> CMD ...``.

It runs in a client pod (the locust image, which has python3) and prints one JSON line. Times are
wall-clock epoch seconds: pods share the host kernel's clock with the harness, so the harness can
subtract its own ``time.time()`` taken when it changed the cluster.

Commands (every loop is bounded by a deadline or a count):

``until HOST:PORT WANT DEADLINE_S TIMEOUT_MS GAP_MS``
    One HTTP GET on a fresh TCP connection per attempt (connect timeout TIMEOUT_MS, then GAP_MS
    pause) until the outcome is WANT (``ok`` or ``refused``). Prints ``started``, ``hit`` (start
    of the first attempt with that outcome), ``prev`` (start of the attempt before it), attempts,
    outcomes by kind. The resolution is the spacing of attempts: at most TIMEOUT_MS + GAP_MS.
``connect HOST:PORT N``
    N sequential TCP connects (closed at once); prints each connect time in ms: the first-packet
    latency (SYN to SYN-ACK through whatever NAT the proxy set up for a new flow).
``series HOST:PORT DURATION_S INTERVAL_MS TIMEOUT_MS``
    A GET on a new connection every INTERVAL_MS; prints ``samples`` as [epoch_ms, pod or "!kind"].
"""

from __future__ import annotations

import errno
import json
import socket
import sys
import time

_KINDS = {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset", errno.EHOSTUNREACH: "unreachable",
          errno.ENETUNREACH: "unreachable", errno.ETIMEDOUT: "timeout", errno.EPIPE: "reset"}


def _split(target: str) -> tuple[str, int]:
    host, port = target.rsplit(":", 1)
    return host, int(port)


def _kind(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timeout"
    code = getattr(exc, "errno", None)
    return _KINDS.get(code, f"other:{type(exc).__name__}") if isinstance(code, int) else f"other:{type(exc).__name__}"


def get(addr: tuple[str, int], timeout_s: float) -> str:
    """One GET on a new connection: the answering pod's name, or ``!<kind>`` on failure."""
    try:
        with socket.create_connection(addr, timeout=timeout_s) as s:
            s.settimeout(max(timeout_s, 1.0))  # connect is the proxy's part; the answer may take longer
            s.sendall(f"GET / HTTP/1.1\r\nHost: {addr[0]}\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            while True:
                b = s.recv(4096)
                if not b:
                    break
                chunks.append(b)
    except OSError as exc:
        return "!" + _kind(exc)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1:2]
    if status != [b"200"]:
        return "!http_" + (status[0].decode() if status else "none")
    try:
        return str(json.loads(body)["pod"])
    except (ValueError, KeyError, TypeError):
        return "!bad_answer"


def until(target: str, want: str, deadline_s: float, timeout_ms: float, gap_ms: float) -> dict[str, object]:
    addr = _split(target)
    started = time.time()
    kinds: dict[str, int] = {}
    prev, attempts = None, 0
    while time.time() - started < deadline_s:
        t = time.time()
        who = get(addr, timeout_ms / 1000)
        attempts += 1
        outcome = "ok" if not who.startswith("!") else who[1:]
        kinds[outcome] = kinds.get(outcome, 0) + 1
        if outcome == want:
            return {"started": started, "hit": t, "prev": prev, "attempts": attempts, "outcomes": kinds, "pod": who}
        prev = t
        time.sleep(gap_ms / 1000)
    return {"started": started, "hit": None, "prev": prev, "attempts": attempts, "outcomes": kinds}


def connect(target: str, n: int) -> dict[str, object]:
    addr = _split(target)
    ms: list[float] = []
    errors: dict[str, int] = {}
    for _ in range(n):
        t = time.perf_counter()
        try:
            socket.create_connection(addr, timeout=2).close()
            ms.append(round((time.perf_counter() - t) * 1000, 4))
        except OSError as exc:
            k = _kind(exc)
            errors[k] = errors.get(k, 0) + 1
        time.sleep(0.002)
    return {"ms": ms, "errors": errors}


def series(target: str, duration_s: float, interval_ms: float, timeout_ms: float) -> dict[str, object]:
    addr = _split(target)
    start = time.time()
    samples: list[list[object]] = []
    i = 0
    while time.time() - start < duration_s:
        t = time.time()
        samples.append([round(t * 1000, 1), get(addr, timeout_ms / 1000)])
        i += 1
        time.sleep(max(0.0, start + i * interval_ms / 1000 - time.time()))
    return {"started": start, "samples": samples}


def main(argv: list[str]) -> dict[str, object]:
    cmd, args = argv[0], argv[1:]
    if cmd == "until":
        return until(args[0], args[1], float(args[2]), float(args[3]), float(args[4]))
    if cmd == "connect":
        return connect(args[0], int(args[1]))
    if cmd == "series":
        return series(args[0], float(args[1]), float(args[2]), float(args[3]))
    raise SystemExit(f"unknown probe command {cmd!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), separators=(",", ":")))
