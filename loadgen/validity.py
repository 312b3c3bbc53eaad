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

R = TypeVar("R")


class InvalidRun(LoadgenError):
    """A load run and its one re-run were both invalid; the message names why."""


def fast_problems(res: FastResult) -> list[str]:
    """Why a wrk/vegeta run is not a measurement: nothing answered, ran short, or fell behind its schedule."""
    spec = res.spec
    out = []
    if res.ok == 0:
        out.append(f"no request answered ({res.requests} sent, errors {res.errors})")
    if res.duration_s < MIN_DURATION_SHARE * spec.duration_s:
        out.append(f"ran {res.duration_s:.2f} s of the {spec.duration_s} s asked")
    behind = behind_schedule(res)
    if behind:
        out.append(behind)
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
