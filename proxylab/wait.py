"""Waiting by polling a condition with a deadline; timeouts name what was awaited and the last state."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from .errors import WaitTimeout

# OSError numbers of a network that is not there *yet* (a starting API server, a pod without its
# address, a route being programmed): worth another poll. Anything else (EACCES, ENOENT, ...) is not.
NETWORK_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EHOSTUNREACH,
                            errno.ENETUNREACH, errno.ENETDOWN, errno.ETIMEDOUT, errno.EPIPE, errno.EAGAIN})
_URLLIB3_TRANSIENT = (urllib3.exceptions.MaxRetryError, urllib3.exceptions.ProtocolError,
                      urllib3.exceptions.TimeoutError, urllib3.exceptions.NewConnectionError,
                      urllib3.exceptions.SSLError, urllib3.exceptions.ProxyError)


def _optional_transient() -> tuple[type[BaseException], ...]:
    """Connection errors of libraries that may be absent (requests; websocket, used by exec)."""
    found: list[type[BaseException]] = []
    try:
        import requests.exceptions as rq

        found += [rq.ConnectionError, rq.Timeout, rq.ChunkedEncodingError]
    except ImportError:
        pass
    try:
        import websocket

        found += [websocket.WebSocketConnectionClosedException, websocket.WebSocketTimeoutException]
    except ImportError:
        pass
    return tuple(found)


_OPTIONAL_TRANSIENT = _optional_transient()


def is_transient(exc: BaseException) -> bool:
    """Whether a condition's exception means "not yet" rather than "wrong".

    Transient: a Kubernetes API answer 429 or 5xx, or no answer at all (status 0/None: the
    client's exec stream reports a failed handshake so); connection errors and timeouts of the
    HTTP stack (urllib3, requests, websocket) and of the OS. Everything else (403, 404, a KeyError,
    an assertion, LoadRunFailed raised to abort) is an answer, and waiting longer cannot change it.
    """
    if isinstance(exc, ApiException):
        return exc.status in (None, 0, 429) or (isinstance(exc.status, int) and exc.status >= 500)
    if isinstance(exc, _URLLIB3_TRANSIENT + _OPTIONAL_TRANSIENT):
        return True
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return isinstance(exc, OSError) and exc.errno in NETWORK_ERRNOS


def wait_for(condition: Callable[[], tuple[bool, str]], *, timeout: float, what: str, interval: float = 1.0,
             retry: tuple[type[BaseException], ...] = ()) -> float:
    """Poll ``condition`` (returns (done, state description)) until done; returns seconds waited.

    A transient exception from the condition (``is_transient``, or one of ``retry``) counts as
    "not yet" and its text becomes the last state seen; any other exception is raised at once, so
    a 403 or a bug fails now instead of as a timeout minutes later.
    """
    start = time.monotonic()
    last = "not checked yet"
    while True:
        try:
            done, last = condition()
        except Exception as exc:
            if not (is_transient(exc) or isinstance(exc, retry)):
                raise
            done, last = False, f"{type(exc).__name__}: {exc}"
        if done:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last state: {last}")
        time.sleep(interval)
