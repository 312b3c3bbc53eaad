"""Is a load run a measurement? (pure, unit-tested)

An empty, short or starved run is not a measurement: it satisfies "no failed request" and "every
request accounted for" and still says nothing about the data path. Each check returns the reasons
a run is invalid (empty list: valid); :func:`measure` re-runs an invalid run once and fails with
the reasons when the second is invalid too, so an invalid run is never averaged in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import LoadgenError
from .fastgen import FastResult
from .result import LoadResult
from .spec import LoadSpec

MIN_DURATION_SHARE = 0.9  # a run must last this share of the time asked
MIN_RATE_SHARE = 0.95  # an open-loop run must send this share of the requests its schedule asked for
MAX_OUTSIDE_SHARE = 0.35  # CPU used outside the cluster during the run, as a share of the machine
# Client sockets in TIME_WAIT after the run, as a share of its ephemeral ports. Linux's connect()
# tries ports of one parity first (half the range); once they are mostly held, every connect()
# searches the hash table port by port. Measured on ebpf (2026-12-02, 28,232-port range, 5-s wrk
# new-connection runs from one pod): 13,267 req/s with 9,653 held (34 %), 8,469 with ~14,200
# (50 %) and 462 with ~18,000 (64 %), the kernel time per request rising from 101 to 2,427 µs.
MAX_CLIENT_TIME_WAIT_SHARE = 0.35

R = TypeVar("R")


class InvalidRun(LoadgenError):
    """A load run and its one re-run were both invalid; the message names why."""


def fast_problems(res: FastResult) -> list[str]:
    """Why a wrk/vegeta run is not a measurement: nothing answered, ran short, fell behind its
    schedule, or its client was short of source ports."""
    spec = res.spec
    out = []
    if res.ok == 0:
        out.append(f"no request answered ({res.requests} sent, errors {res.errors})")
    if res.duration_s < MIN_DURATION_SHARE * spec.duration_s:
        out.append(f"ran {res.duration_s:.2f} s of the {spec.duration_s} s asked")
    behind = behind_schedule(res)
    if behind:
        out.append(behind)
    held = res.client_port_share_held
    if held is not None and held > MAX_CLIENT_TIME_WAIT_SHARE:
        out.append(f"the client held {res.client_time_wait_after} of its {res.ephemeral_ports} source ports in "
                   f"TIME_WAIT ({held:.0%} > {MAX_CLIENT_TIME_WAIT_SHARE:.0%}): connect() was searching for a "
                   "free port, so the rate is the client's, not the path's")
    return out


def behind_schedule(res: FastResult) -> str:
    """Why an open-loop run fell behind its schedule ("" when it kept it, or is closed-loop)."""
    spec = res.spec
    if spec.tool == "vegeta" and spec.rate:
        asked = spec.rate * spec.duration_s
        if res.requests < MIN_RATE_SHARE * asked:
            return (f"sent {res.requests} of the {asked} requests its schedule asked for: the generator "
                    "could not keep the offered rate")
    return ""


def locust_problems(res: LoadResult, spec: LoadSpec) -> list[str]:
    """Why a locust run is not a measurement: no request, or it ran much shorter than asked."""
    out = []
    if res.requests == 0:
        out.append("no request was made (0 requests)")
    elif spec.max_requests is None and res.duration_s < MIN_DURATION_SHARE * spec.duration_s - 1:
        # duration_s counts first to last whole second with requests, hence the 1-s allowance
        out.append(f"requests spanned {res.duration_s:.1f} s of the {spec.duration_s} s asked")
    elif spec.max_requests is not None and res.requests < spec.max_requests:
        out.append(f"made {res.requests} of the {spec.max_requests} requests asked")
    return out


def conntrack_problems(drops: float | None) -> list[str]:
    """The host's conntrack dropped packets during the run: its table was full (proxylab/sysctl.py)."""
    if drops:
        return [f"the host's conntrack dropped {int(drops)} packets during the run (its table was full: "
                "`nf_conntrack: table full` in dmesg), so new connections waited for SYN retransmits; "
                "`proxylab cluster up` raises net.netfilter.nf_conntrack_max"]
    return []


def outside_problems(outside_cores: float | None, ncpu: int) -> list[str]:
    """Interference: other work on the machine took more than MAX_OUTSIDE_SHARE of its CPU."""
    if outside_cores is not None and ncpu and outside_cores > MAX_OUTSIDE_SHARE * ncpu:
        return [f"starved: work outside the cluster used {outside_cores:.2f} of {ncpu} cores during the run "
                f"(bound {MAX_OUTSIDE_SHARE:.0%} of the machine)"]
    return []


@dataclass(frozen=True)
class Measured(Generic[R]):
    """A valid run, and the reasons its discarded predecessor was invalid (empty when the first was valid)."""

    result: R
    discarded: tuple[str, ...]


def measure(run: Callable[[], R], problems: Callable[[R], list[str]], what: str) -> Measured[R]:
    """Run once; if invalid, run again; if invalid again, raise InvalidRun naming both runs' reasons."""
    first = run()
    why = problems(first)
    if not why:
        return Measured(first, ())
    second = run()
    again = problems(second)
    if again:
        raise InvalidRun(f"{what}: invalid twice, not a measurement: first run: {'; '.join(why)}; "
                         f"re-run: {'; '.join(again)}")
    return Measured(second, tuple(why))
