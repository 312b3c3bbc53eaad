"""Pure, stdlib-only accounting shared by the in-cluster locustfile and the harness.

This file is shipped into the locust pods (ConfigMap, next to locustfile.py) and imported by the
harness for parsing, so it must not import locust, gevent or anything outside the stdlib.

Wire format (worker -> master, inside locust's own ``report_to_master`` data, key ``proxylab``)::

    {"worker": "<pod name>",
     "seconds": {"<epoch second>": {"n": int, "fail": {kind: int}, "hist": {"<µs bucket>": int}}},
     "backends": {"<echo pod name>": int},
     "cpu": [[epoch seconds, percent of one core], ...]}

Every report carries only what happened since the previous one; the master adds them up.
"""

from __future__ import annotations

import errno
import math
from collections.abc import Iterable, Mapping
from typing import Any

SIG_DIGITS = 3  # histogram precision: < 1 % error per bucket

Seconds = dict[str, dict[str, Any]]


class BadAnswer(Exception):
    """A 2xx answer that is not the echo backend's JSON {pod, node, client}."""


def bucket_us(latency_ms: float) -> int:
    """Histogram bucket (µs) for a latency: exact below 1 ms, then 3 significant digits."""
    us = max(0, round(latency_ms * 1000))
    if us < 10 ** SIG_DIGITS:
        return us
    drop = int(math.log10(us)) + 1 - SIG_DIGITS
    return round(us, -drop)


# The failure vocabulary, a copy of proxylab/failures.py's (this file runs in the locust pods
# without proxylab); suites/unit/test_failures.py checks that the copies agree.
KINDS = ("refused", "reset", "timeout", "unreachable", "dns", "bad_answer", "other")
REFUSED, RESET, TIMEOUT, UNREACHABLE, DNS, BAD_ANSWER, OTHER = KINDS
HTTP_PREFIX = "http_"

_ERRNO_KIND = {errno.ECONNREFUSED: REFUSED, errno.ECONNRESET: RESET, errno.EPIPE: RESET,
               errno.ETIMEDOUT: TIMEOUT, errno.EHOSTUNREACH: UNREACHABLE, errno.ENETUNREACH: UNREACHABLE}
_NAME_KIND = (("gaierror", DNS), ("refused", REFUSED), ("reset", RESET), ("brokenpipe", RESET),
              ("connectionclosed", RESET),
              ("timeout", TIMEOUT), ("badanswer", BAD_ANSWER))
_TEXT_KIND = (("refused", REFUSED), ("reset by peer", RESET), ("timed out", TIMEOUT))


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def classify(exc: BaseException | None, status: int | None) -> str | None:
    """Failure kind of one request, or None for a success.

    Kinds (proxylab/failures.py): ``refused``, ``reset``, ``timeout``, ``unreachable``, ``dns`` (connection
    level, from errno or the exception class, following ``__cause__``), ``http_<status>``, ``bad_answer``,
    ``other:<exception class>``.
    Connection-level causes win over the status, because geventhttpclient reports status 0 then.
    """
    if exc is None and status is not None and 200 <= status < 400:
        return None
    if exc is not None:
        for e in _chain(exc):
            code = getattr(e, "errno", None)
            if isinstance(code, int) and code in _ERRNO_KIND:
                return _ERRNO_KIND[code]
            if isinstance(e, ConnectionRefusedError):
                return REFUSED
            if isinstance(e, (ConnectionResetError, BrokenPipeError)):
                return RESET
            if isinstance(e, TimeoutError):
                return TIMEOUT
            name = type(e).__name__.lower()
            for needle, kind in _NAME_KIND:
                if needle in name:
                    return kind
    if status is not None and status >= 100:
        return f"{HTTP_PREFIX}{status}"
    if exc is not None:
        code = getattr(exc, "code", None)
        if isinstance(code, int) and code >= 100:
            return f"{HTTP_PREFIX}{code}"
        text = str(exc).lower()  # wrappers such as geventhttpclient's ConnectionError keep only the text
        for needle, kind in _TEXT_KIND:
            if needle in text:
                return kind
        return f"{OTHER}:{type(exc).__name__}"
    return None if status is None else OTHER


def record(seconds: Seconds, start_time: float, latency_ms: float, kind: str | None) -> None:
    """Account one request in the per-second buckets (keyed by the second it started in)."""
    sec = seconds.setdefault(str(int(start_time)), {"n": 0, "fail": {}, "hist": {}})
    sec["n"] += 1
    if kind is not None:
        sec["fail"][kind] = sec["fail"].get(kind, 0) + 1
    else:
        b = str(bucket_us(latency_ms))
        sec["hist"][b] = sec["hist"].get(b, 0) + 1


def _add_counts(into: dict[str, int], more: Mapping[str, int]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, 0) + int(v)


def merge_seconds(into: Seconds, more: Mapping[str, Mapping[str, Any]]) -> None:
    for sec, data in more.items():
        cur = into.setdefault(str(sec), {"n": 0, "fail": {}, "hist": {}})
        cur["n"] += int(data.get("n", 0))
        _add_counts(cur["fail"], data.get("fail", {}))
        _add_counts(cur["hist"], data.get("hist", {}))


def merge_report(state: dict[str, Any], report: Mapping[str, Any]) -> None:
    """Master side: add one worker report into ``state`` (seconds, backends; cpu and requests per worker)."""
    merge_seconds(state.setdefault("seconds", {}), report.get("seconds", {}))
    _add_counts(state.setdefault("backends", {}), report.get("backends", {}))
    worker = str(report.get("worker", "unknown"))
    state.setdefault("cpu", {}).setdefault(worker, []).extend([list(s) for s in report.get("cpu", [])])
    made = sum(int(s.get("n", 0)) for s in report.get("seconds", {}).values())
    per_worker = state.setdefault("worker_requests", {})
    per_worker[worker] = per_worker.get(worker, 0) + made


def merge_hist(hists: Iterable[Mapping[str, int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for h in hists:
        for k, v in h.items():
            out[int(k)] = out.get(int(k), 0) + int(v)
    return out


def percentile_ms(hist: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0 < q <= 1) of a µs histogram, in ms; None when empty.

    Nearest-rank: the smallest bucket whose cumulative count reaches ceil(q * total).
    """
    total = sum(hist.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    cum = 0
    for b in sorted(hist):
        cum += hist[b]
        if cum >= rank:
            return b / 1000
    return max(hist) / 1000
