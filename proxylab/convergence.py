"""Convergence of a probe series after a change (pure): the one analysis behind the conformance
checks (suites/conformance/checks.py) and the performance suite's failover figures
(:mod:`proxylab.perf.failover`).

A series is what ``echo series`` prints: one request on a new connection every interval, each a
:class:`Sample` of its start time in wall-clock epoch milliseconds (the probe pod shares the host
kernel's clock with the harness) and the answering pod or ``"!<failure kind>"``
(:mod:`proxylab.failures`). "Converged" means: from some moment on, every later sample satisfies
a condition (e.g. "not the victim"). The moment is the first sample after the last violation, so
its resolution is the series' interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple


class Sample(NamedTuple):
    """One request of a probe series."""

    t_ms: float  # start of the request, wall-clock epoch milliseconds
    who: str  # the answering pod, or "!<failure kind>"

    @property
    def failed(self) -> bool:
        return self.who.startswith("!")

    @property
    def kind(self) -> str | None:
        """The failure kind, None for an answer."""
        return self.who[1:] if self.failed else None


def parse_series(samples: Iterable[Sequence[Any]]) -> list[Sample]:
    """``echo series``'s ``samples`` ([epoch_ms, who] pairs from JSON) as Samples."""
    return [Sample(float(t), str(who)) for t, who in samples]


def converged_at(samples: Sequence[Sample], start_ms: float, holds: Callable[[str], bool],
                 end_ms: float | None = None) -> float | None:
    """Milliseconds after ``start_ms`` from which ``holds(who)`` is true for every later sample
    (samples from ``start_ms`` up to, not including, ``end_ms``).

    0.0 when it holds for every sample in that window; None when it never settles (the last
    sample still violates it) or when no sample falls into the window (nothing was observed).
    """
    window = sorted(s for s in samples if s.t_ms >= start_ms and (end_ms is None or s.t_ms < end_ms))
    if not window:
        return None
    bad = [s.t_ms for s in window if not holds(s.who)]
    if not bad:
        return 0.0
    later = [s.t_ms for s in window if s.t_ms > bad[-1]]
    return (later[0] - start_ms) if later else None


def first_at(samples: Sequence[Sample], start_ms: float, matches: Callable[[str], bool]) -> float | None:
    """Milliseconds after ``start_ms`` of the first sample from then on with ``matches(who)``; None if none."""
    hits = sorted(s.t_ms for s in samples if s.t_ms >= start_ms and matches(s.who))
    return (hits[0] - start_ms) if hits else None
