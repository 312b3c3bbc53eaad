"""wait_for retries only what can change by waiting; anything else fails at once (issue 12)."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable

import pytest
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from loadgen.errors import LoadRunFailed
from proxylab.errors import WaitTimeout
from proxylab.wait import is_transient, wait_for


def _failing_then_ok(exc: BaseException, failures: int = 2) -> tuple[list[int], Callable[[], tuple[bool, str]]]:
    calls: list[int] = []

    def condition() -> tuple[bool, str]:
        calls.append(1)
        if len(calls) <= failures:
            raise exc
        return True, "done"

    return calls, condition


@pytest.mark.parametrize("exc", [
    ApiException(status=503), ApiException(status=500), ApiException(status=429), ApiException(status=0),
    ConnectionRefusedError(errno.ECONNREFUSED, "refused"), TimeoutError("slow"),
    OSError(errno.EHOSTUNREACH, "no route"),
    urllib3.exceptions.MaxRetryError(None, "/", "down"),  # type: ignore[arg-type]
    urllib3.exceptions.ProtocolError("reset"),
])
def test_transient_errors_are_retried(exc: BaseException) -> None:
    assert is_transient(exc)
    calls, condition = _failing_then_ok(exc)
    wait_for(condition, timeout=5, what="x", interval=0.001)
    assert len(calls) == 3


@pytest.mark.parametrize("exc", [
    ApiException(status=403), ApiException(status=404), KeyError("status"), AssertionError("probe exited 2"),
    LoadRunFailed("locust master ended"), OSError(errno.EACCES, "denied"), ValueError("bad"),
])
def test_other_errors_are_raised_at_once(exc: BaseException) -> None:
    assert not is_transient(exc)
    calls, condition = _failing_then_ok(exc)
    t0 = time.monotonic()
    with pytest.raises(type(exc)):
        wait_for(condition, timeout=60, what="x", interval=0.5)
    assert len(calls) == 1 and time.monotonic() - t0 < 1


def test_retry_lets_a_caller_add_its_own_not_yet() -> None:
    calls, condition = _failing_then_ok(KeyError("endpoints"))
    wait_for(condition, timeout=5, what="x", interval=0.001, retry=(KeyError,))
    assert len(calls) == 3


def test_timeout_names_what_and_the_last_transient_state() -> None:
    def condition() -> tuple[bool, str]:
        raise ApiException(status=502, reason="Bad Gateway")

    with pytest.raises(WaitTimeout, match=r"waiting for the API; last state: ApiException: \(502\)"):
        wait_for(condition, timeout=0.05, what="the API", interval=0.01)
