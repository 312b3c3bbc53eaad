"""What a load run should do: the harness's side of the locust command line."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

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
    request_timeout_s: float = 3.0
    node: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.targets:
            raise LoadSpecError("targets is empty: give at least one 'host:port' (Service or pod IP)")
        for t in self.targets:
            host, sep, port = t.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise LoadSpecError(f"target {t!r} is not 'host:port' (e.g. 'echo.ns.svc:80' or '10.244.1.5:8080')")
        if not 1 <= self.users <= 10_000:
            raise LoadSpecError(f"users must be 1..10000, got {self.users}")
        if not 1 <= self.workers <= 50:
            raise LoadSpecError(f"workers must be 1..50, got {self.workers}")
        if self.spawn_rate <= 0:
            raise LoadSpecError(f"spawn_rate must be > 0, got {self.spawn_rate}")
        if not 1 <= self.duration_s <= MAX_DURATION_S:
            raise LoadSpecError(f"duration_s must be 1..{MAX_DURATION_S} (it is the run's hard cap), "
                                f"got {self.duration_s}")
        if self.max_requests is not None and self.max_requests < 1:
            raise LoadSpecError(f"max_requests must be >= 1 or None, got {self.max_requests}")
        if self.rate_per_user is not None and self.rate_per_user <= 0:
            raise LoadSpecError(f"rate_per_user must be > 0 or None, got {self.rate_per_user}")
        if not self.path.startswith("/"):
            raise LoadSpecError(f"path must start with '/', got {self.path!r}")

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
