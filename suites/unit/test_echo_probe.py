"""The echo binary's probe commands (until, connect, series, udpseries) against real sockets on this host:
a running ``echo serve``, a closed port (refused), servers that answer 503, answer something that
is not echo's JSON, close without answering (reset) or never answer (timeout).

The binary is built with the host's ``go`` into a temporary directory; without ``go`` the tests
are skipped with that reason. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxylab import failures
from suites.namespaces import UntilPoll, until_args

ECHO_SRC = Path(__file__).parents[2] / "proxylab" / "images" / "echo"
POD = "echo-under-test"


@pytest.fixture(scope="module")
def echo_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("no `go` on PATH: the echo binary cannot be built on this host")
    out = tmp_path_factory.mktemp("echo") / "echo"
    # No network: the module has no dependencies, and an older toolchain must not fetch a newer one.
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOPROXY": "off"}
    res = subprocess.run([go, "build", "-o", str(out), "."], cwd=ECHO_SRC, env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.returncode == 0, f"go build of the echo binary failed: {res.stderr}"
    return out


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _retry(attempt: Callable[[], object], timeout: float = 10) -> None:
    """Repeat ``attempt`` until it raises no OSError (re-raised once ``timeout`` has passed)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            attempt()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wait_listening(port: int, timeout: float = 10) -> None:
    _retry(lambda: socket.create_connection(("127.0.0.1", port), timeout=0.5).close(), timeout)


@contextlib.contextmanager
def _echo_serve(echo_bin: Path, wait: Callable[[int, int], None]) -> Iterator[tuple[int, int]]:
    """A running ``echo serve`` on free ports; ``wait(http_port, udp_port)`` until it answers; yields the ports."""
    port, udp_port = _free_port(), _free_port(socket.SOCK_DGRAM)
    env = {**os.environ, "HTTP_PORT": str(port), "UDP_PORT": str(udp_port), "POD_NAME": POD,
           "NODE_NAME": "node-under-test"}
    proc = subprocess.Popen([str(echo_bin), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait(port, udp_port)
        yield port, udp_port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def serve(echo_bin: Path) -> Iterator[str]:
    """A running ``echo serve``; yields its HOST:PORT."""
    with _echo_serve(echo_bin, lambda http, _: _wait_listening(http)) as (port, _):
        yield f"127.0.0.1:{port}"


def _wait_udp(port: int, timeout: float = 10) -> None:
    """Until a datagram to ``port`` is answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)

        def ping() -> bytes:
            s.sendto(b"ping", ("127.0.0.1", port))
            return s.recv(2048)
        _retry(ping, timeout)


@pytest.fixture(scope="module")
def serve_udp(echo_bin: Path) -> Iterator[str]:
    """A running ``echo serve``; yields the HOST:PORT of its UDP answerer."""
    with _echo_serve(echo_bin, lambda _, udp: _wait_udp(udp)) as (_, udp_port):
        yield f"127.0.0.1:{udp_port}"


@pytest.fixture
def closed_port() -> str:
    """A local port nothing listens on: connects are refused."""
    return f"127.0.0.1:{_free_port()}"


def _server(respond: Callable[[socket.socket], None]) -> Iterator[str]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            respond(self.request)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _http(status: str, body: bytes) -> Callable[[socket.socket], None]:
    def respond(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
    return respond


def _close_without_answer(conn: socket.socket) -> None:
    conn.recv(4096)


def _never_answer(conn: socket.socket) -> None:
    conn.recv(4096)
    time.sleep(3)


@pytest.fixture
def syn_dropped() -> Iterator[str]:
    """A listener whose accept queue is full: the kernel drops further SYNs, so a connect times out
    (as a SYN to a backend that vanished without a RST)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    addr = srv.getsockname()
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(addr)
        fillers.append(c)
    time.sleep(0.2)
    try:
        yield f"127.0.0.1:{addr[1]}"
    finally:
        for c in fillers:
            c.close()
        srv.close()


@pytest.fixture
def unavailable() -> Iterator[str]:
    yield from _server(_http("503 Service Unavailable", b"unready\n"))


@pytest.fixture
def not_echo() -> Iterator[str]:
    yield from _server(_http("200 OK", b"not json"))


@pytest.fixture
def hangs_up() -> Iterator[str]:
    yield from _server(_close_without_answer)


@pytest.fixture
def silent() -> Iterator[str]:
    yield from _server(_never_answer)


def run(echo_bin: Path, *args: str, timeout: float = 60) -> dict[str, Any]:
    """One probe command; its one JSON line."""
    res = subprocess.run([str(echo_bin), *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert res.returncode == 0, f"echo {args} exited {res.returncode}: {res.stderr}"
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def test_until_ok_reports_epoch_seconds(echo_bin: Path, serve: str) -> None:
    before = time.time()
    res = run(echo_bin, "until", serve, "ok", "5", "200", "20")
    after = time.time()
    assert res["pod"] == POD and res["attempts"] == 1 and res["outcomes"] == {"ok": 1} and res["prev"] is None
    assert before - 0.01 <= res["started"] <= res["hit"] <= after + 0.01


def test_until_refused(echo_bin: Path, closed_port: str) -> None:
    res = run(echo_bin, *until_args(closed_port, "refused", UntilPoll(deadline_s=5, timeout_ms=40, gap_ms=0)))
    assert res["hit"] is not None and res["pod"] == "!refused" and res["outcomes"] == {"refused": 1}


def test_until_gives_up_at_the_deadline(echo_bin: Path, closed_port: str) -> None:
    """Also: the suites' until_args puts deadline, timeout and gap where the binary reads them."""
    t0 = time.time()
    res = run(echo_bin, *until_args(closed_port, "ok", UntilPoll(deadline_s=0.5, timeout_ms=40, gap_ms=50)))
    assert res["hit"] is None and "pod" not in res
    assert res["attempts"] >= 3 and res["outcomes"] == {"refused": res["attempts"]}
    assert res["started"] <= res["prev"] <= res["started"] + 0.5 and time.time() - t0 < 5


@pytest.mark.parametrize(("server", "kind"), [("unavailable", "http_503"), ("not_echo", "bad_answer"),
                                              ("hangs_up", "reset"), ("silent", "timeout")])
def test_until_classifies_failures(echo_bin: Path, server: str, kind: str, request: pytest.FixtureRequest) -> None:
    target: str = request.getfixturevalue(server)
    res = run(echo_bin, "until", target, kind, "10", "200", "0")
    assert res["hit"] is not None and res["outcomes"] == {kind: 1}, res
    assert failures.is_kind(kind)


def test_silent_backend_times_out_after_the_answer_timeout(echo_bin: Path, silent: str) -> None:
    """The connect may take TIMEOUT_MS, the answer max(TIMEOUT_MS, 1 s): a slow answer is not a timeout."""
    t0 = time.monotonic()
    res = run(echo_bin, "until", silent, "ok", "0.1", "200", "0")
    took = time.monotonic() - t0
    assert res["outcomes"] == {"timeout": 1} and 0.9 <= took < 5


def test_connect_timeout_is_timeout_ms(echo_bin: Path, syn_dropped: str) -> None:
    """TIMEOUT_MS bounds the connect (the proxy's part), not the whole request."""
    t0 = time.monotonic()
    res = run(echo_bin, "until", syn_dropped, "ok", "0.05", "100", "0")
    assert res["outcomes"] == {"timeout": 1} and time.monotonic() - t0 < 0.8  # the answer timeout would be 1 s
    assert run(echo_bin, "connect", syn_dropped, "1") == {"ms": [], "errors": {"timeout": 1}}


def test_connect_n(echo_bin: Path, serve: str, closed_port: str) -> None:
    ok = run(echo_bin, "connect", serve, "20")
    assert ok["errors"] == {} and len(ok["ms"]) == 20 and all(0 < ms < 1000 for ms in ok["ms"])
    refused = run(echo_bin, "connect", closed_port, "3")
    assert refused == {"ms": [], "errors": {"refused": 3}}


def test_connect_once_keeps_its_shape(echo_bin: Path, serve: str, closed_port: str) -> None:
    ok = run(echo_bin, "connect", serve)
    assert ok["ok"] is True and ok["ms"] >= 0 and "kind" not in ok
    refused = run(echo_bin, "connect", closed_port)
    assert refused["ok"] is False and refused["kind"] == "refused" and "refused" in refused["error"]


@pytest.mark.parametrize("timeout_ms", [None, "300"])
def test_series_samples_in_epoch_ms(echo_bin: Path, serve: str, timeout_ms: str | None) -> None:
    before = time.time() * 1000
    res = run(echo_bin, "series", f"http://{serve}/", "600", "100", *([timeout_ms] if timeout_ms else []))
    after = time.time() * 1000
    assert isinstance(res["started"], int) and before - 10 <= res["started"] <= after
    times = [t for t, _ in res["samples"]]
    assert {w for _, w in res["samples"]} == {POD}
    assert 4 <= len(times) <= 7 and times == sorted(times)
    assert res["started"] <= times[0] and times[-1] <= after


def test_series_with_timeout_records_failures_by_kind(echo_bin: Path, silent: str, closed_port: str) -> None:
    res = run(echo_bin, "series", f"http://{closed_port}/", "300", "100", "300")
    assert res["samples"] and {w for _, w in res["samples"]} == {"!refused"}
    t0 = time.monotonic()
    res = run(echo_bin, "series", f"http://{silent}/", "100", "50", "300")
    assert [w for _, w in res["samples"]] == ["!timeout"] and time.monotonic() - t0 >= 0.9


def test_udpseries_uses_one_source_port_and_epoch_ms(echo_bin: Path, serve_udp: str) -> None:
    before = time.time() * 1000
    # 200 ms intervals: a loaded 2-core host may take more than 50 ms to answer on loopback, and
    # this test is about the one socket and the clock, not about the timeout.
    res = run(echo_bin, "udpseries", serve_udp, "1000", "200")
    after = time.time() * 1000
    assert isinstance(res["started"], int) and before - 10 <= res["started"] <= after
    assert isinstance(res["local_port"], int) and res["local_port"] > 0 and res["late"] == 0
    times = [t for t, _ in res["samples"]]
    assert {w for _, w in res["samples"]} == {POD}
    assert 4 <= len(times) <= 6 and times == sorted(times) and times[-1] <= after


def test_udpseries_unanswered_datagrams_time_out_within_the_interval(echo_bin: Path) -> None:
    """Nothing answers on the port: every sample is a timeout, each awaited one interval only."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:  # bound, never answers
        sink.bind(("127.0.0.1", 0))
        t0 = time.monotonic()
        res = run(echo_bin, "udpseries", f"127.0.0.1:{sink.getsockname()[1]}", "300", "50")
        took = time.monotonic() - t0
    assert res["samples"] and {w for _, w in res["samples"]} == {"!timeout"}, res
    assert 5 <= len(res["samples"]) <= 7 and took < 3


def test_udpseries_counts_answers_queued_at_the_next_send_as_late(echo_bin: Path) -> None:
    """A backend that answers every datagram twice: the first answer is the sample's, the second
    is still queued when the next datagram is sent and is counted as late, not attributed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as srv:
        srv.bind(("127.0.0.1", 0))
        srv.settimeout(1.0)  # well over the probe's interval: quiet this long means the probe is done

        def answer_twice() -> None:
            body = json.dumps({"pod": POD, "node": "n", "client": "c"}).encode()
            while True:
                try:
                    _, peer = srv.recvfrom(2048)
                except OSError:
                    return
                srv.sendto(body, peer)
                srv.sendto(body, peer)

        worker = threading.Thread(target=answer_twice, daemon=True)
        worker.start()
        res = run(echo_bin, "udpseries", f"127.0.0.1:{srv.getsockname()[1]}", "1000", "200")
        worker.join(2)
    whos = [w for _, w in res["samples"]]
    assert whos and set(whos) == {POD}, res
    assert len(whos) - 2 <= res["late"] <= len(whos), res


def test_bad_arguments_are_refused(echo_bin: Path) -> None:
    for args in (["series", "http://x/", "1"], ["udpseries", "x:1", "100"], ["udpseries", "x:1", "100", "0"],
                 ["until", "x:1", "ok", "1", "-5", "0"], ["connect", "x:1", "0"]):
        res = subprocess.run([str(echo_bin), *args], capture_output=True, text=True, timeout=10, check=False)
        assert res.returncode == 2, (args, res.stdout)
