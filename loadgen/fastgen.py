"""The compiled instruments: wrk (closed loop, maximum rate) and vegeta (open loop, fixed rate).

locust is the scenario driver (users, failover, balancing under load) but, in Python, it is
slower than the data path it would measure: on the 2-core development machine it reached 3.4k
req/s keep-alive through a ClusterIP where wrk reached 20k. Raw data-path figures therefore come
from these two, run with :mod:`loadgen.agent.fastrun` inside an idle pod of the load-generator
image (``kubectl exec``), and each result carries what the generator itself used, so a reader can
see that the instrument was faster than what it measured.

Public surface: :class:`FastSpec`, :class:`FastResult`, :func:`run_fast`, :func:`generator_pod`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kubernetes import client

from proxylab import failures, kube, manifests
from proxylab.constants import REQUEST_TIMEOUT_S

from .errors import LoadRunFailed, LoadSpecError

FASTRUN_SRC = (Path(__file__).parent / "agent" / "fastrun.py").read_text()
MARKER = "PROXYLAB-FASTGEN "
Tool = Literal["wrk", "vegeta"]
GENERATOR_BOUND_SHARE = 0.9  # of the cores its threads can use: above it, the generator limits the rate


@dataclass(frozen=True)
class FastSpec:
    """One run of a compiled generator against ``target`` (``host:port``), ``path`` ``/``.

    ``tool="wrk"``: closed loop, ``connections`` connections over ``threads`` threads, as fast as
    answers come. ``tool="vegeta"``: open loop at ``rate`` requests/s. ``keep_alive=False`` sends
    ``Connection: close``: a new TCP connection per request.
    """

    target: str
    tool: Tool = "wrk"
    duration_s: int = 5
    keep_alive: bool = True
    connections: int = 10
    threads: int = 1
    rate: int | None = None
    timeout_s: float = REQUEST_TIMEOUT_S

    def __post_init__(self) -> None:
        host, sep, port = self.target.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise LoadSpecError(f"target {self.target!r} is not 'host:port' (e.g. '10.96.0.20:80')")
        if self.tool not in ("wrk", "vegeta"):
            raise LoadSpecError(f"tool must be 'wrk' or 'vegeta', got {self.tool!r}")
        if not 1 <= self.duration_s <= 600:
            raise LoadSpecError(f"duration_s must be 1..600, got {self.duration_s}")
        if not 1 <= self.connections <= 10_000 or not 1 <= self.threads <= 64 or self.threads > self.connections:
            raise LoadSpecError(f"connections must be 1..10000 and threads 1..64 (<= connections), got "
                                f"{self.connections} / {self.threads}")
        if self.tool == "vegeta" and (self.rate is None or not 1 <= self.rate <= 1_000_000):
            raise LoadSpecError(f"vegeta needs a rate of 1..1000000 requests/s, got {self.rate}")
        if not (isinstance(self.timeout_s, int | float) and math.isfinite(self.timeout_s) and 0 < self.timeout_s <= 60):
            raise LoadSpecError(f"timeout_s must be in (0, 60], got {self.timeout_s}")

    @property
    def url(self) -> str:
        return f"http://{self.target}/"

    def argv(self) -> list[str]:
        """The in-pod driver's command line (see loadgen/agent/fastrun.py)."""
        ka = "true" if self.keep_alive else "false"
        if self.tool == "wrk":
            return ["wrk", self.url, str(self.duration_s), str(self.connections), str(self.threads), ka,
                    f"{self.timeout_s:g}"]
        return ["vegeta", self.url, str(self.duration_s), str(self.rate), ka, f"{self.timeout_s:g}"]


@dataclass(frozen=True)
class FastResult:
    """What one run measured and what it cost (pure data, JSON-ready through :meth:`summary`)."""

    spec: FastSpec
    requests: int  # answered (wrk) or sent (vegeta)
    ok: int  # answered with a 2xx
    errors: dict[str, int]  # failed requests by kind, in proxylab/failures.py's vocabulary
    tool_errors: dict[str, int]  # the same failures as the tool counted them (wrk's counters, vegeta's)
    duration_s: float
    latency_ms: dict[str, float]  # p50, p90, p99, max, mean
    gen_cpu_s: float
    wall_s: float
    host_cpu_s: dict[str, float]  # machine-wide CPU split over the run (seconds summed over CPUs)
    ncpu: int
    loadavg_before: list[float]
    loadavg_after: list[float]
    offered_rps: float | None = None  # vegeta: the schedule it kept
    # The client pod's own TCP state (None from drivers that did not report it): sockets in
    # TIME_WAIT in its network namespace before and after the run, and its ephemeral port range.
    client_time_wait_before: int | None = None
    client_time_wait_after: int | None = None
    ephemeral_ports: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def rps(self) -> float:
        """Answered requests per second over the run."""
        return self.ok / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def gen_cores(self) -> float:
        return self.gen_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def kernel_cpu_s(self) -> float:
        """The machine's kernel time (system + irq + softirq) over the run: on kind every node shares
        the host's kernel, so this is the whole data path's kernel cost (client, proxy, backends)."""
        return sum(self.host_cpu_s.get(k, 0.0) for k in ("system", "irq", "softirq"))

    @property
    def kernel_us_per_request(self) -> float | None:
        return self.kernel_cpu_s / self.ok * 1e6 if self.ok else None

    @property
    def client_port_share_held(self) -> float | None:
        """The share of the client's ephemeral ports held in TIME_WAIT after the run."""
        if self.client_time_wait_after is None or not self.ephemeral_ports:
            return None
        return self.client_time_wait_after / self.ephemeral_ports

    @property
    def generator_bound(self) -> bool:
        """The generator used (nearly) all the CPU its threads can: the rate is its limit, a lower bound."""
        return self.spec.tool == "wrk" and self.gen_cores >= GENERATOR_BOUND_SHARE * self.spec.threads

    @property
    def generator_heavier_than_path(self) -> bool:
        """The generator used more CPU than everything else on the machine during the run, i.e. more
        than the path it measures (kernel, proxy, backends): its figures are the instrument's."""
        busy = sum(v for k, v in self.host_cpu_s.items() if k not in ("idle", "iowait"))
        return self.gen_cpu_s > max(busy - self.gen_cpu_s, 0.0)

    def summary(self) -> dict[str, Any]:
        return {
            "tool": self.spec.tool, "target": self.spec.target, "keep_alive": self.spec.keep_alive,
            "connections": self.spec.connections, "threads": self.spec.threads, "rate": self.spec.rate,
            "asked_s": self.spec.duration_s, "requests": self.requests, "ok": self.ok, "errors": self.errors,
            "tool_errors": self.tool_errors,
            "duration_s": round(self.duration_s, 3), "rps": round(self.rps, 1), "offered_rps": self.offered_rps,
            "latency_ms": {k: round(v, 3) for k, v in self.latency_ms.items()},
            "gen_cpu_s": self.gen_cpu_s, "gen_cores": round(self.gen_cores, 3),
            "generator_bound": self.generator_bound, "generator_heavier_than_path": self.generator_heavier_than_path,
            "kernel_cpu_s": round(self.kernel_cpu_s, 3),
            "kernel_us_per_request": None if (k := self.kernel_us_per_request) is None else round(k, 2),
            "host_cpu_s": self.host_cpu_s, "ncpu": self.ncpu, "loadavg": [self.loadavg_before, self.loadavg_after],
            "client_time_wait": [self.client_time_wait_before, self.client_time_wait_after],
            "ephemeral_ports": self.ephemeral_ports,
        }


def from_raw(spec: FastSpec, raw: dict[str, Any]) -> FastResult:
    """A FastResult from the driver's JSON; raises LoadRunFailed when the tool reported no run."""
    if raw.get("error"):
        raise LoadRunFailed(f"{spec.tool} against {spec.target}: {raw['error']}")
    tool_errors = {str(k): int(v) for k, v in (raw.get("errors") or {}).items() if v}
    requests = int(raw["requests"])
    if spec.tool == "wrk":
        # wrk counts every complete answer in requests; answers >= 400 are also in errors.status.
        ok = requests - tool_errors.get("status", 0)
        errors = failures.from_wrk(tool_errors)
    else:
        ok = int(raw["ok"])
        errors = failures.from_vegeta({str(k): int(v) for k, v in (raw.get("status_codes") or {}).items()},
                                      raw.get("error_texts") or [])
    return FastResult(spec=spec, requests=requests, ok=ok, errors=errors, tool_errors=tool_errors,
                      duration_s=float(raw["duration_s"]),
                      latency_ms={k: float(v) for k, v in raw["latency_ms"].items()},
                      gen_cpu_s=float(raw["gen_cpu_s"]), wall_s=float(raw["wall_s"]),
                      host_cpu_s={k: float(v) for k, v in raw["host_cpu_s"].items()}, ncpu=int(raw["ncpu"]),
                      loadavg_before=list(raw["loadavg_before"]), loadavg_after=list(raw["loadavg_after"]),
                      offered_rps=raw.get("offered_rps"), client_time_wait_before=raw.get("client_time_wait_before"),
                      client_time_wait_after=raw.get("client_time_wait_after"),
                      ephemeral_ports=raw.get("ephemeral_ports"), raw=raw)


def parse_output(spec: FastSpec, stdout: str) -> FastResult:
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith(MARKER)), None)
    if line is None:
        raise LoadRunFailed(f"{spec.tool} against {spec.target}: the driver printed no result: {stdout[-600:]!r}")
    return from_raw(spec, json.loads(line[len(MARKER):]))


def run_fast(api: client.ApiClient, namespace: str, pod: str, spec: FastSpec) -> FastResult:
    """Run ``spec`` in ``pod`` (a :func:`generator_pod`) and return its result. Blocks ~duration_s."""
    res = kube.exec_in_pod(api, namespace, pod, ["python3", "-c", FASTRUN_SRC, *spec.argv()],
                           timeout=spec.duration_s + 120)
    if res.returncode != 0:
        raise LoadRunFailed(f"{spec.tool} in {namespace}/{pod} exited {res.returncode}: "
                            f"{(res.stderr or res.stdout)[-800:]}")
    return parse_output(spec, res.stdout)


# The generator pod's source ports (namespaced sysctls on Kubernetes' "safe" list, allowed by every
# kubelet and by the restricted Pod Security level): 61,744 instead of Linux's default 28,232, so
# the TIME_WAIT sockets a new-connection run leaves behind do not exhaust them (loadgen/validity.py).
# The NodePort range stays reserved: no client socket uses a port a node would answer on.
GENERATOR_SYSCTLS = (("net.ipv4.ip_local_port_range", "1024 65535"),
                     ("net.ipv4.ip_local_reserved_ports", "30000-32767"))


def generator_pod(name: str, image: str, node: str | None, security: dict[str, Any]) -> dict[str, Any]:
    """An idle pod of the load-generator image to exec the generators in:
    non-root, no capabilities, read-only root with a small writable /tmp, no API token, a wide
    ephemeral port range (:data:`GENERATOR_SYSCTLS`)."""
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False, "enableServiceLinks": False,
        "activeDeadlineSeconds": 4 * 3600,  # never outlives a forgotten namespace by much
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                            "sysctls": [{"name": k, "value": v} for k, v in GENERATOR_SYSCTLS]},
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
        "containers": [{"name": "probe", "image": image, "imagePullPolicy": "IfNotPresent",
                        "command": ["/bin/sleep", "14400"], "securityContext": security,
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "512Mi"}}}],
    }
    if node:
        spec["affinity"] = manifests.on_nodes([node])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"probe-name": name}},
            "spec": spec}
