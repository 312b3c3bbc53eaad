"""The failure vocabulary is one list: proxylab/failures.py, the echo binary's classifier (Go
source) and the load generator's stdlib-only copy (lgstats.py) name failures the same way."""

from __future__ import annotations

import errno
import re
import socket
from pathlib import Path

import pytest

from loadgen.agent import lgstats
from proxylab import failures

ROOT = Path(__file__).parents[2]
ECHO_MAIN = ROOT / "proxylab" / "images" / "echo" / "main.go"
LGSTATS = ROOT / "loadgen" / "agent" / "lgstats.py"


def _go_code() -> str:
    """main.go without its comments (they quote kinds in prose)."""
    return "\n".join(line.split("//", 1)[0] for line in ECHO_MAIN.read_text().splitlines())


def _go_kind_constants() -> dict[str, str]:
    block = re.search(r"const \(\n((?:\s*kind\w+\s*=\s*\"[^\"]*\"\s*\n)+)\)", _go_code())
    assert block, "main.go has no const ( kind... = \"...\" ) block"
    return dict(re.findall(r"(kind\w+)\s*=\s*\"([^\"]*)\"", block.group(1)))


def test_go_kind_constants_are_the_vocabulary() -> None:
    consts = _go_kind_constants()
    assert consts.pop("kindHTTPPrefix") == failures.HTTP_PREFIX
    assert sorted(consts.values()) == sorted(failures.KINDS)


def test_go_classifier_uses_only_the_constants() -> None:
    code = _go_code()
    body = re.search(r"func classify\(err error\) string \{\n(.*?)\n\}\n", code, re.S)
    assert body, "func classify not found in main.go"
    returns = re.findall(r"return (\S+)", body.group(1))
    assert returns and all(r in _go_kind_constants() for r in returns), returns
    assert '"' not in body.group(1), "classify returns a literal instead of a kind constant"
    for kind in (*failures.KINDS, failures.HTTP_PREFIX, "status_"):
        literal = f'"{kind}"'
        assert code.count(literal) == (0 if kind == "status_" else 1), f"{literal} outside the kind constants"


def test_lgstats_copy_is_the_vocabulary() -> None:
    assert lgstats.KINDS == failures.KINDS
    assert lgstats.HTTP_PREFIX == failures.HTTP_PREFIX
    assert lgstats._ERRNO_KIND == failures.ERRNO_KINDS
    assert {k for _, k in (*lgstats._NAME_KIND, *lgstats._TEXT_KIND)} <= set(failures.KINDS)


@pytest.mark.parametrize(("exc", "status"), [
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), 0), (OSError(errno.ENETUNREACH, "unreachable"), 0),
    (TimeoutError(), 0), (socket.gaierror(-2, "unknown"), 0), (lgstats.BadAnswer("x"), 200), (None, 503),
    (ValueError("x"), 0), (None, 0), (OSError("Connection reset by peer"), None),
])
def test_lgstats_classifies_into_the_vocabulary(exc: BaseException | None, status: int) -> None:
    kind = lgstats.classify(exc, status)
    assert kind is not None and failures.is_kind(kind), kind


def test_lgstats_is_standalone() -> None:
    """It runs in the locust pod, where proxylab is not installed."""
    assert not re.search(r"^\s*(from|import)\s+(proxylab|loadgen)", LGSTATS.read_text(), re.M)


@pytest.mark.parametrize(("name", "known"), [
    ("refused", True), ("unreachable", True), ("http_503", True), ("other", True), ("other:ValueError", True),
    ("bad_answer", True), ("status_503", False), ("http_", False), ("http_50x", False), ("timed out", False),
])
def test_is_kind(name: str, known: bool) -> None:
    assert failures.is_kind(name) is known
    assert failures.is_kind(failures.http(404))


def test_wrk_counters_become_kinds() -> None:
    got = failures.from_wrk({"connect": 2, "read": 1, "write": 3, "timeout": 4, "status": 5})
    assert got == {"other:wrk_connect": 2, "reset": 4, "timeout": 4, "other:wrk_status": 5}
    assert failures.from_wrk({"connect": 0, "read": 0}) == {}
    assert all(failures.is_kind(k) for k in got)


@pytest.mark.parametrize(("text", "kind"), [
    ('Get "http://10.96.0.20:80/": dial tcp 10.96.0.20:80: connect: connection refused', "refused"),
    ('Get "http://10.96.0.20:80/": read tcp 10.244.1.5:40000->10.96.0.20:80: read: connection reset by peer', "reset"),
    ('Get "http://10.96.0.20:80/": EOF', "reset"),
    ('Get "http://10.96.0.20:80/": dial tcp 10.96.0.20:80: i/o timeout', "timeout"),
    ("context deadline exceeded (Client.Timeout exceeded while awaiting headers)", "timeout"),
    ("dial tcp 10.96.0.20:80: connect: no route to host", "unreachable"),
    ("dial tcp: lookup echo.ns.svc: no such host", "dns"),
    ("something new", "other"),
])
def test_error_texts_become_kinds(text: str, kind: str) -> None:
    assert failures.from_text(text) == kind


def test_vegeta_status_codes_and_texts_become_kinds() -> None:
    refused = 'dial tcp 10.96.0.20:80: connect: connection refused'
    assert failures.from_vegeta({"200": 90, "503": 4, "0": 6}, [refused]) == {"http_503": 4, "refused": 6}
    # vegeta keeps distinct texts without counts: a mix cannot be split, so it is named as a mix
    assert failures.from_vegeta({"0": 5}, [refused, "i/o timeout"]) == {"other:refused+timeout": 5}
    assert failures.from_vegeta({"0": 2}, []) == {"other": 2}
    assert failures.from_vegeta({"200": 10}, []) == {}
