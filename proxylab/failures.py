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
"""

from __future__ import annotations

import errno
import re

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
