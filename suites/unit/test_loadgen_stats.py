"""loadgen's pure parts: failure classification, histogram buckets, percentiles, merging reports."""

from __future__ import annotations

import errno
import socket

import pytest

from loadgen.agent import lgstats


class HTTPConnectionClosed(Exception):
    """Stands in for geventhttpclient's class of the same name (classified by name)."""


class BadStatus(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"status {code}")
        self.code = code


@pytest.mark.parametrize(("exc", "status", "kind"), [
    (None, 200, None),
    (None, 302, None),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), 0, "refused"),
    (OSError(errno.ECONNREFUSED, "refused, as a plain OSError"), None, "refused"),
    (ConnectionResetError(errno.ECONNRESET, "reset by peer"), 0, "reset"),
    (BrokenPipeError(errno.EPIPE, "broken pipe"), 0, "reset"),
    (HTTPConnectionClosed("connection closed."), 0, "reset"),
    (TimeoutError("timed out"), 0, "timeout"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), 0, "unreachable"),
    (None, 503, "http_503"),
    (BadStatus(502), 0, "http_502"),
    (lgstats.BadAnswer("not json"), 200, "bad_answer"),
    (socket.gaierror(-2, "Name or service not known"), 0, "dns"),
    (OSError("[Errno 111] Connection refused (wrapped)"), 0, "refused"),
    (ValueError("something else"), 0, "other:ValueError"),
])
def test_classify(exc: BaseException | None, status: int | None, kind: str | None) -> None:
    assert lgstats.classify(exc, status) == kind


def test_classify_follows_the_cause_chain() -> None:
    try:
        try:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert lgstats.classify(outer, 0) == "refused"


@pytest.mark.parametrize(("ms", "us"), [(0.0, 0), (0.4567, 457), (0.999, 999), (1.2345, 1230), (12.345, 12300),
                                        (123.456, 123000)])
def test_bucket_keeps_three_significant_digits(ms: float, us: int) -> None:
    assert lgstats.bucket_us(ms) == us


def test_percentiles_nearest_rank() -> None:
    hist = {100: 50, 200: 45, 1000: 4, 5000: 1}
    assert lgstats.percentile_ms(hist, 0.5) == 0.1
    assert lgstats.percentile_ms(hist, 0.95) == 0.2
    assert lgstats.percentile_ms(hist, 0.99) == 1.0
    assert lgstats.percentile_ms(hist, 1.0) == 5.0
    assert lgstats.percentile_ms({}, 0.5) is None


def test_record_and_merge_reports_from_two_workers() -> None:
    w1: lgstats.Seconds = {}
    lgstats.record(w1, 1000.2, 0.5, None)
    lgstats.record(w1, 1000.9, 0.7, "refused")
    lgstats.record(w1, 1001.1, 0.5, None)
    w2: lgstats.Seconds = {}
    lgstats.record(w2, 1000.5, 0.5, None)
    state: dict[str, object] = {}
    lgstats.merge_report(state, {"worker": "a", "seconds": w1, "backends": {"p1": 2}, "cpu": [[1000.0, 50.0]]})
    lgstats.merge_report(state, {"worker": "b", "seconds": w2, "backends": {"p1": 1}, "cpu": [[1000.0, 40.0]]})
    lgstats.merge_report(state, {"worker": "a", "seconds": {}, "backends": {"p2": 3}, "cpu": [[1001.0, 60.0]]})
    assert state["seconds"] == {"1000": {"n": 3, "fail": {"refused": 1}, "hist": {"500": 2}},
                                "1001": {"n": 1, "fail": {}, "hist": {"500": 1}}}
    assert state["backends"] == {"p1": 3, "p2": 3}
    assert state["cpu"] == {"a": [[1000.0, 50.0], [1001.0, 60.0]], "b": [[1000.0, 40.0]]}
    assert state["worker_requests"] == {"a": 3, "b": 1}  # failed requests count: they were made
