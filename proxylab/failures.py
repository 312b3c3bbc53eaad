"""The one vocabulary of failed requests: what the probe (the echo binary), the load generator
(loadgen/agent/lgstats.py) and the results call a request that did not get its answer.

=============== ============================================================================
kind            meaning
=============== ============================================================================
``refused``     connection refused (ECONNREFUSED): a RST to the SYN, e.g. kube-proxy's REJECT
                for a Service without endpoints
``reset``       the connection was reset or closed without an answer (ECONNRESET, EPIPE, EOF)
``timeout``     no answer in time (connect or read timeout, ETIMEDOUT): e.g. a SYN dropped
``unreachable`` EHOSTUNREACH / ENETUNREACH: an ICMP error, e.g. the host's containment guard
                for an untranslated ClusterIP, or Cilium's socket LB without backends
``dns``         the name did not resolve
``http_<code>`` an HTTP answer with a status other than success, e.g. ``http_503``
``bad_answer``  a successful HTTP status whose body is not the echo backend's JSON
``other``       anything else; the Python classifiers may add the exception class after a
                colon (``other:ValueError``)
=============== ============================================================================

The echo binary emits these names from its ``kind*`` constants (proxylab/images/echo/main.go) and
lgstats.py (stdlib only, shipped into the locust pods, so it cannot import this module) keeps its
own copy; suites/unit/test_failures.py checks both against :data:`KINDS`.

The compiled generators have vocabularies of their own, translated here (:func:`from_wrk`,
:func:`from_vegeta`) so that results and reports only ever show the kinds above. wrk counts
failures without saying why a connect failed or which status came back; those two counters become
``other:wrk_connect`` and ``other:wrk_status`` rather than a guess.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable, Mapping

REFUSED = "refused"
RESET = "reset"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
DNS = "dns"
BAD_ANSWER = "bad_answer"
OTHER = "other"
HTTP_PREFIX = "http_"

KINDS: tuple[str, ...] = (REFUSED, RESET, TIMEOUT, UNREACHABLE, DNS, BAD_ANSWER, OTHER)
"""Every fixed kind; ``http_<code>`` and ``other:<detail>`` are the two open families."""

ERRNO_KINDS: dict[int, str] = {errno.ECONNREFUSED: REFUSED, errno.ECONNRESET: RESET, errno.EPIPE: RESET,
                               errno.ETIMEDOUT: TIMEOUT, errno.EHOSTUNREACH: UNREACHABLE,
                               errno.ENETUNREACH: UNREACHABLE}
"""OS error numbers with a kind of their own."""

_HTTP = re.compile(rf"^{HTTP_PREFIX}\d{{3}}$")


def http(status: int) -> str:
    """The kind of an HTTP answer with ``status``."""
    return f"{HTTP_PREFIX}{status}"


def is_kind(name: str) -> bool:
    """Whether ``name`` belongs to the vocabulary (a probe's ``"!kind"`` without the ``!``)."""
    return name in KINDS or bool(_HTTP.match(name)) or name.startswith(OTHER + ":")


_TEXT_KINDS: tuple[tuple[str, str], ...] = (
    ("connection refused", REFUSED),
    ("connection reset", RESET), ("broken pipe", RESET), ("eof", RESET),
    ("timeout", TIMEOUT), ("deadline exceeded", TIMEOUT), ("timed out", TIMEOUT),
    ("no route to host", UNREACHABLE), ("network is unreachable", UNREACHABLE),
    ("no such host", DNS), ("server misbehaving", DNS),
)
"""Substrings of OS and Go error texts (vegeta's ``errors``), checked in this order."""


def from_text(text: str) -> str:
    """The kind of an error message such as Go's ``dial tcp 10.96.0.10:80: connect: connection refused``."""
    low = text.lower()
    return next((kind for needle, kind in _TEXT_KINDS if needle in low), OTHER)


WRK_COUNTERS: dict[str, str] = {"connect": f"{OTHER}:wrk_connect", "read": RESET, "write": RESET,
                                "timeout": TIMEOUT, "status": f"{OTHER}:wrk_status"}
"""wrk's error counters and their kinds: a read or write error is a reset or closed connection, a
status error an HTTP answer >= 400 whose code wrk does not keep."""


def from_wrk(counters: Mapping[str, int]) -> dict[str, int]:
    """wrk's ``errors`` counters (connect, read, write, status, timeout) as failure kinds."""
    out: dict[str, int] = {}
    for name, count in counters.items():
        if count:
            kind = WRK_COUNTERS.get(name, f"{OTHER}:wrk_{name}")
            out[kind] = out.get(kind, 0) + int(count)
    return out


def from_vegeta(status_codes: Mapping[str, int], error_texts: Iterable[str]) -> dict[str, int]:
    """vegeta's per-status counts and its (deduplicated, uncounted) error texts as failure kinds.

    Status ``0`` counts the requests that got no HTTP answer; vegeta keeps only the distinct error
    texts, not how often each occurred, so those requests get the texts' kind when they all agree
    and ``other:<kind>+<kind>`` naming every kind seen when they do not.
    """
    out: dict[str, int] = {}
    for code, count in status_codes.items():
        if count and code != "0" and not code.startswith("2"):
            out[http(int(code))] = out.get(http(int(code)), 0) + int(count)
    transport = int(status_codes.get("0", 0))
    if transport:
        kinds = sorted({from_text(t) for t in error_texts} - {BAD_ANSWER}) or [OTHER]
        kind = kinds[0] if len(kinds) == 1 else f"{OTHER}:{'+'.join(kinds)}"
        out[kind] = out.get(kind, 0) + transport
    return out
