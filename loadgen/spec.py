"""What a load run should do: the harness's side of the locust command line."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from proxylab.constants import MAX_LOAD_WORKERS, REQUEST_TIMEOUT_S

from .errors import LoadSpecError

MAX_DURATION_S = 600  # hard cap for any run, whatever the caller asks


@dataclass(frozen=True)
class LoadSpec:
    """One locust run inside the cluster.

    ``targets``: ``host:port`` strings; a Service DNS name or ClusterIP and port, or several pod
    IPs for the no-proxy baseline. By default each user round-robins over the targets request by
    request, starting at a random one; ``sticky=True`` instead gives each user one target for the
    whole run, users spread evenly over the targets (user k of a worker gets target
    (offset + k) mod n, offset random per worker). Sticky is the fair keep-alive baseline: a kept-
    alive connection through a Service also stays on the one backend it was balanced to, while a
    round-robin user waits on every backend in turn, so one slow backend slows every user.
    ``duration_s`` is always the hard cap; with ``max_requests`` the run stops earlier, once that
    many requests were made (rounded up to a multiple of ``users``: each user gets an equal share).
    ``keep_alive=False`` sends ``Connection: close``, so every request opens a new TCP connection.
    ``rate_per_user`` (req/s) paces users; None runs a closed loop as fast as answers come.
    ``node`` pins the locust pods to one node (so traffic crosses nodes as the caller wants).
    ``spread=True`` puts the workers on different nodes instead (one per node, by required pod
    anti-affinity), so a run's rate is not capped by one node's CPU; ``node`` then pins only the
    master, which sends no traffic. The cluster needs ``workers`` schedulable nodes.
    """

    targets: tuple[str, ...]
    users: int = 10
    spawn_rate: float = 10.0
    duration_s: int = 15
    max_requests: int | None = None
    keep_alive: bool = True
    sticky: bool = False
    workers: int = 1
    rate_per_user: float | None = None
    path: str = "/"
    request_timeout_s: float = REQUEST_TIMEOUT_S
    node: str | None = None
    spread: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Every field checked for type and range: a LoadSpecError naming the field, never another error."""
        _targets(self.targets)
        _whole("users", self.users, 1, 10_000)
        _whole("workers", self.workers, 1, MAX_LOAD_WORKERS)
        _positive("spawn_rate", self.spawn_rate)
        _whole("duration_s", self.duration_s, 1, MAX_DURATION_S, " (it is the run's hard cap)")
        if self.max_requests is not None:
            _whole("max_requests", self.max_requests, 1, 10**9, " or None")
        _flag("keep_alive", self.keep_alive)
        _flag("sticky", self.sticky)
        _flag("spread", self.spread)
        if self.rate_per_user is not None:
            _positive("rate_per_user", self.rate_per_user, " or None")
        if not isinstance(self.path, str) or not self.path.startswith("/") or _has_space(self.path):
            raise LoadSpecError(f"path must be a string starting with '/' without spaces, got {self.path!r}")
        _positive("request_timeout_s", self.request_timeout_s)
        if self.node is not None and (not isinstance(self.node, str) or not self.node or _has_space(self.node)):
            raise LoadSpecError(f"node must be a node name or None, got {self.node!r}")
        if not isinstance(self.labels, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in self.labels.items()):
            raise LoadSpecError(f"labels must map strings to strings, got {self.labels!r}")

    @property
    def per_user(self) -> int:
        """Requests per user in request-count mode, 0 otherwise."""
        return math.ceil(self.max_requests / self.users) if self.max_requests else 0

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["targets"] = list(self.targets)
        return d

    def agent_args(self) -> list[str]:
        """Options of proxylab's locustfile, the same for master and workers."""
        return ["--pl-targets", ",".join(self.targets), "--pl-path", self.path,
                "--pl-keep-alive", "true" if self.keep_alive else "false",
                "--pl-sticky", "true" if self.sticky else "false",
                "--pl-per-user", str(self.per_user), "--pl-rate-per-user", str(self.rate_per_user or 0),
                "--pl-timeout", str(self.request_timeout_s),
                "--pl-spec", json.dumps(self.to_json(), separators=(",", ":"))]

    def master_args(self, locustfile: str) -> list[str]:
        return ["-f", locustfile, "--master", "--headless", "--expect-workers", str(self.workers),
                "--expect-workers-max-wait", "120", "-u", str(self.users), "-r", str(self.spawn_rate),
                "--run-time", f"{self.duration_s}s", "--stop-timeout", "2", "--exit-code-on-error", "0",
                "--only-summary", *self.agent_args()]

    def worker_args(self, locustfile: str, master_ip: str) -> list[str]:
        return ["-f", locustfile, "--worker", "--master-host", master_ip, *self.agent_args()]


def _has_space(text: str) -> bool:
    return any(c.isspace() or not c.isprintable() for c in text)


def _targets(targets: object) -> None:
    if isinstance(targets, str) or not isinstance(targets, tuple | list):
        raise LoadSpecError(f"targets must be a tuple of 'host:port' strings, got {targets!r}")
    if not targets:
        raise LoadSpecError("targets is empty: give at least one 'host:port' (Service or pod IP)")
    for t in targets:
        if not isinstance(t, str):
            raise LoadSpecError(f"targets: {t!r} is not a 'host:port' string")
        host, sep, port = t.rpartition(":")
        if not sep or not host or not (port.isascii() and port.isdigit()) or "," in t or _has_space(t):
            raise LoadSpecError(f"targets: {t!r} is not 'host:port' (e.g. 'echo.ns.svc:80' or '10.244.1.5:8080'; "
                                "no commas or spaces)")
        if not 1 <= int(port) <= 65535:
            raise LoadSpecError(f"targets: {t!r} has port {int(port)}; ports are 1..65535")


def _whole(name: str, value: object, lo: int, hi: int, note: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LoadSpecError(f"{name} must be a whole number {lo}..{hi}{note}, got {value!r}")
    if not lo <= value <= hi:
        raise LoadSpecError(f"{name} must be {lo}..{hi}{note}, got {value}")


def _positive(name: str, value: object, note: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LoadSpecError(f"{name} must be a number > 0{note}, got {value!r}")
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite or value <= 0:
        raise LoadSpecError(f"{name} must be a finite number > 0{note}, got {value!r}")


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise LoadSpecError(f"{name} must be True or False, got {value!r}")
