"""The data path measured with the compiled instruments: one backend reached through its ClusterIP
and directly by pod IP, from the same client pod, back to back.

Method (shared by the throughput suite and the Services sweep):

- **Closed loop** (wrk, maximum rate): per repeat one run to the pod IP (the baseline: no proxy
  rule on the path) and one to the ClusterIP, order counterbalanced (ABBA: baseline first in even
  repeats, Service first in odd ones) so a first-run penalty cannot bias the ratio; the ratio is
  formed per repeat. Keep-alive (10 connections kept open) and new connection (``Connection:
  close``: NAT + conntrack of a new flow on every request).
- **Open loop** (vegeta, fixed offered rate): latency at 25/50/75 % of the Service's measured
  closed-loop capacity, to the ClusterIP and to the pod IP at the same rate.
- **Validity**: each run must answer, last the time asked, keep its schedule, and not compete with
  work outside the cluster (host cgroups, :mod:`proxylab.perf.interference`); an invalid run is
  re-run once and the test fails if the re-run is invalid too (:func:`loadgen.validity.measure`).
- **Cost**: generator CPU (cores) and the machine's kernel CPU per answered request, beside every
  figure; a generator at its CPU limit or heavier than the path is flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadgen import fastgen, validity
from loadgen.fastgen import FastResult, FastSpec
from proxylab.perf import interference, summary
from suites.namespaces import Namespace

CONNS = {"keepalive": True, "newconn": False}
OPEN_LOOP_SHARES = (0.25, 0.5, 0.75)
CONNECTIONS = 10
# Measurements start once the cluster itself is quiet (below this many cores over 3 s; an idle
# 3-node kind cluster uses about 0.2): after bulk changes the proxy and controllers keep working,
# and runs taken then varied 5x (keep-alive at K = 1,000 right after creating the Services).
QUIET_CORES = 0.5
WARMUP_S = 1


@dataclass
class Run:
    result: FastResult
    interference: dict[str, float | None]
    discarded: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        return {**self.result.summary(), "interference": self.interference, "discarded": list(self.discarded)}


@dataclass
class Pairs:
    """Closed-loop repeats of one connection kind: baseline[i] and service[i] ran back to back."""

    conn: str
    baseline: list[Run] = field(default_factory=list)
    service: list[Run] = field(default_factory=list)


# Generator pods per role, used in turn. A new-connection run leaves about a tenth of its
# connections in TIME_WAIT on the client for 60 s (wrk closes as the server's FIN arrives): 6,000
# to 9,000 after a 5-s run at 11,000-13,000 req/s (measured on ebpf and iptables, 2026-12-02).
# Runs alternate between two roles, so with four pods each a pod rests for seven runs (about a
# minute) before its next one, and its TIME_WAIT sockets are gone. Each run records the client's
# TIME_WAIT count; a run whose client was short of ports is invalid.
POOL = 4


def pool_names(prefix: str) -> list[str]:
    """The names of one role's generator pods."""
    return [f"{prefix}-{i}" for i in range(POOL)]


@dataclass
class Client:
    """Where the generators run: generator pods on one node, a pool for the ClusterIP runs and a
    pool for the pod-IP runs, and the host-side CPU sampler.

    Why separate pools: a new-connection benchmark reuses source ports within the backend's
    TIME_WAIT (60 s; the server closes first on ``Connection: close``). Linux accepts a SYN for a
    4-tuple in TIME_WAIT only if its TCP timestamp is newer (PAWS), and the client's timestamp
    offset is derived from the (source, destination) address pair, which differs between the
    ClusterIP and the pod IP. From one pod, alternating the two targets made the backend drop
    hundreds of SYNs per run (its PAWSTimewait counter), each costing the client a 1-s retransmit:
    new-connection rates varied 4x between repeats. Separate client pods never share a 4-tuple
    across targets. Why pools: see :data:`POOL`."""

    ns: Namespace
    pods: dict[str, list[str]]  # "service" | "baseline" -> generator pods, used in turn
    sampler: interference.Sampler
    _turn: dict[str, int] = field(default_factory=dict)

    def next_pod(self, role: str) -> str:
        """The ``role``'s pod that rested longest (round robin)."""
        pool = self.pods[role]
        i = self._turn.get(role, 0)
        self._turn[role] = i + 1
        return pool[i % len(pool)]

    def once(self, spec: FastSpec, role: str) -> tuple[FastResult, dict[str, float | None]]:
        """One run from the ``role``'s next pod and the CPU used outside the cluster meanwhile (no validity check)."""
        before = self.sampler.sample()
        res = fastgen.run_fast(self.ns.api, self.ns.name, self.next_pod(role), spec)
        return res, interference.between(before, self.sampler.sample())

    @staticmethod
    def problems(r: tuple[FastResult, dict[str, float | None]]) -> list[str]:
        res, seen = r
        return (validity.fast_problems(res) + validity.outside_problems(seen.get("outside_cores"), res.ncpu)
                + validity.conntrack_problems(seen.get("host_conntrack_drops")))

    def run(self, spec: FastSpec, role: str, what: str) -> Run:
        """A valid run: an invalid one is re-run once; invalid twice fails (validity.InvalidRun)."""
        got = validity.measure(lambda: self.once(spec, role), self.problems, what)
        res, seen = got.result
        return Run(res, seen, got.discarded)


def closed_loop(c: Client, service: str, pod: str, conn: str, repeats: int, duration_s: int) -> Pairs:
    """``repeats`` ABBA pairs of wrk runs to ``service`` and ``pod`` (both ``host:port``)."""
    pairs = Pairs(conn)
    keep = CONNS[conn]
    interference.wait_quiet(c.sampler, QUIET_CORES)
    # Warm-up, left out: the first run against a target paid up to 25 % (ARP and conntrack entries,
    # the backend's goroutines and buffers, CPU caches); one short run per target takes that.
    for role, target in (("baseline", pod), ("service", service)):
        c.once(FastSpec(target=target, tool="wrk", duration_s=WARMUP_S, keep_alive=keep, connections=CONNECTIONS), role)

    def one(target: str, into: list[Run], role: str) -> None:
        spec = FastSpec(target=target, tool="wrk", duration_s=duration_s, keep_alive=keep, connections=CONNECTIONS)
        into.append(c.run(spec, role, f"wrk {conn} to the {role} {target}"))

    for i in range(repeats):
        order: list[Callable[[], None]] = [lambda: one(pod, pairs.baseline, "baseline"),
                                           lambda: one(service, pairs.service, "service")]
        for step in (order if i % 2 == 0 else order[::-1]):
            step()
    return pairs


def open_loop(c: Client, service: str, pod: str, conn: str, capacity_rps: float, duration_s: int) -> list[dict[str, Any]]:
    """vegeta at each share of ``capacity_rps``, to the ClusterIP and the pod IP at the same rate.

    An open-loop generator must itself keep the schedule: where vegeta falls behind the offered
    rate, that rate is beyond the instrument on this machine; the row records why and the higher
    shares are not tried (never a figure). A run where vegeta used more CPU than the path it
    measured is kept but flagged (``generator_heavier_than_path`` in its summary): on keep-alive
    connections the kernel path costs less per request than any Go client."""
    out: list[dict[str, Any]] = []
    for share in OPEN_LOOP_SHARES:
        rate = max(1, int(capacity_rps * share))
        row: dict[str, Any] = {"share": share, "rate": rate}
        for label, target in (("service", service), ("baseline", pod)):
            spec = FastSpec(target=target, tool="vegeta", duration_s=duration_s, keep_alive=CONNS[conn], rate=rate)
            first = c.once(spec, label)
            behind = validity.behind_schedule(first[0])
            invalid = not behind and Client.problems(first)  # invalid otherwise: the usual one re-run
            run = c.run(spec, label, f"vegeta {conn} at {rate}/s to {target}") if invalid else Run(*first, ())
            row[label] = run.summary()
            if behind:
                row["beyond_generator"] = behind
                break
        out.append(row)
        if "beyond_generator" in row:
            break
    return out


def stats(values: Sequence[float | None]) -> dict[str, Any]:
    """summary.Summary as metrics, plus the reliability verdict against summary.CV_BOUND."""
    s = summary.summarize(values)
    out = s.as_metrics()
    out["cv_bound"] = summary.CV_BOUND
    out["reliable"] = summary.reliable(s)
    return out


def figures(pairs: Pairs) -> dict[str, Any]:
    """Everything one connection kind's pairs measured: per-run figures, their stats and ratios."""
    svc = [r.result for r in pairs.service]
    base = [r.result for r in pairs.baseline]
    rps = [r.rps for r in svc]
    base_rps = [r.rps for r in base]
    ratio = summary.paired_ratios(rps, base_rps)
    out: dict[str, Any] = {
        "rps": stats(rps),
        "baseline_rps": stats(base_rps),
        "ratio_to_baseline": stats(ratio),
        "p50_ms": stats([r.latency_ms.get("p50") for r in svc]),
        "p99_ms": stats([r.latency_ms.get("p99") for r in svc]),
        "baseline_p99_ms": stats([r.latency_ms.get("p99") for r in base]),
        "kernel_us_per_request": stats([r.kernel_us_per_request for r in svc]),
        "baseline_kernel_us_per_request": stats([r.kernel_us_per_request for r in base]),
        "gen_cores": stats([r.gen_cores for r in svc + base]),
        "generator_bound_runs": sum(r.generator_bound for r in svc + base),
        "generator_heavier_than_path_runs": sum(r.generator_heavier_than_path for r in svc + base),
        "errors": sum(sum(r.errors.values()) for r in svc + base),
        "discarded_runs": [d for r in pairs.service + pairs.baseline for d in r.discarded],
        "runs": {"service": [r.summary() for r in pairs.service], "baseline": [r.summary() for r in pairs.baseline]},
    }
    return out


def assert_steady(pairs: Pairs) -> None:
    """What must hold: every run answered every request it made (no failure in steady state)."""
    for label, runs in (("ClusterIP", pairs.service), ("pod IP", pairs.baseline)):
        for r in runs:
            assert not r.result.errors, f"{pairs.conn} wrk run to the {label} had errors: {r.result.summary()}"
