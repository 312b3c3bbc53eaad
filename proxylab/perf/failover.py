"""Failover analysis of a probe series (pure).

Input: :class:`proxylab.convergence.Sample` s (epoch ms, who) from a client that opens a new
connection per request, where ``who`` is the answering pod or ``"!<failure kind>"``; the time the
fault was requested; the victim;
and the backends that existed before the fault. Output: errors, time to the last error, time until
the victim stops getting traffic, time until a replacement (a pod not in the original set) gets
traffic, and per-second timelines of errors and of the victim's share.

"Stops getting traffic" is convergence (:func:`proxylab.convergence.converged_at`, the same
analysis as the conformance checks'): the first moment after which no later sample reaches the
victim (a victim that is never reached after the fault converged at 0 s). Resolution is the
series' sample interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..convergence import Sample, converged_at, first_at


@dataclass(frozen=True)
class Failover:
    samples: int
    errors: int
    errors_by_kind: dict[str, int]
    last_error_s: float | None  # after the fault; None: no error after the fault
    victim_gone_s: float | None  # None: the victim still answered at the end of the series
    victim_back_s: float | None  # for a victim re-admitted later (see ``readmitted_at``)
    replacement_s: float | None  # None: no new pod answered
    failover_s: float | None  # max(victim_gone_s, last_error_s): when the clients saw a settled set
    error_timeline: list[list[float]] = field(default_factory=list)  # [s after fault, errors]
    victim_share_timeline: list[list[float]] = field(default_factory=list)  # [s after fault, share of ok]
    backend_counts: dict[str, int] = field(default_factory=dict)

    def as_metrics(self) -> dict[str, Any]:
        return {"samples": self.samples, "errors": self.errors, "errors_by_kind": self.errors_by_kind,
                "last_error_s": self.last_error_s, "victim_gone_s": self.victim_gone_s,
                "victim_back_s": self.victim_back_s, "replacement_s": self.replacement_s,
                "failover_seconds": self.failover_s, "error_timeline": self.error_timeline,
                "victim_share_timeline": self.victim_share_timeline, "backend_counts": self.backend_counts}


def _s(ms: float) -> float:
    return round(ms / 1000, 3)


def _ms_to_s(ms: float | None) -> float | None:
    return None if ms is None else _s(ms)


def per_second(samples: Iterable[Sample], t0_ms: float, victim: str) -> tuple[list[list[float]], list[list[float]]]:
    """Errors per second and the victim's share of successful answers per second, t relative to t0."""
    bins: dict[int, list[int]] = {}  # second -> [errors, ok, victim]
    for t, who in samples:
        b = bins.setdefault(int((t - t0_ms) // 1000), [0, 0, 0])
        if who.startswith("!"):
            b[0] += 1
        else:
            b[1] += 1
            b[2] += who == victim
    if not bins:
        return [], []
    secs = range(min(bins), max(bins) + 1)
    errors = [[float(s), float(bins.get(s, [0, 0, 0])[0])] for s in secs]
    share = [[float(s), round(bins[s][2] / bins[s][1], 4)] for s in secs if s in bins and bins[s][1]]
    return errors, share


def analyse(samples: Sequence[Sample], fault_ms: float, victim: str, original: Iterable[str],
            readmitted_at_ms: float | None = None) -> Failover:
    """Failover figures of ``samples`` for a fault on ``victim`` requested at ``fault_ms``.

    With ``readmitted_at_ms`` (the victim was made ready again then), the victim's absence is only
    judged before that moment and ``victim_back_s`` is the time from it to the victim's next answer.
    """
    original = set(original)
    ordered = sorted(samples)
    errs = [s for s in ordered if s.failed]
    by_kind: dict[str, int] = {}
    for s in errs:
        kind = str(s.kind)
        by_kind[kind] = by_kind.get(kind, 0) + 1
    errs_after = [s.t_ms for s in errs if s.t_ms >= fault_ms]
    last_error = _s(errs_after[-1] - fault_ms) if errs_after else None
    gone_ms = converged_at(ordered, fault_ms, lambda who: who != victim, end_ms=readmitted_at_ms)
    observed = any(s.t_ms >= fault_ms and (readmitted_at_ms is None or s.t_ms < readmitted_at_ms) for s in ordered)
    # Without a single sample in the window nothing reached the victim either: 0 s, as it always was here.
    gone = _ms_to_s(gone_ms) if observed else 0.0
    back = None if readmitted_at_ms is None else _ms_to_s(first_at(ordered, readmitted_at_ms, lambda w: w == victim))
    replacement = _ms_to_s(first_at(ordered, fault_ms, lambda w: not w.startswith("!") and w not in original))
    failover = None if gone is None else max(gone, last_error or 0.0)
    err_tl, share_tl = per_second(ordered, fault_ms, victim)
    counts: dict[str, int] = {}
    for _, w in ordered:
        if not w.startswith("!"):
            counts[w] = counts.get(w, 0) + 1
    return Failover(len(ordered), len(errs), by_kind, last_error, gone, back, replacement, failover,
                    err_tl, share_tl, dict(sorted(counts.items())))
