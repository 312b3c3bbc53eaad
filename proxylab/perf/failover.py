"""Failover analysis of a probe series (pure).

Input: samples ``(epoch_ms, who)`` from a client that opens a new connection per request, where
``who`` is the answering pod or ``"!<error kind>"``; the time the fault was requested; the victim;
and the backends that existed before the fault. Output: errors, time to the last error, time until
the victim stops getting traffic, time until a replacement (a pod not in the original set) gets
traffic, and per-second timelines of errors and of the victim's share.

"Stops getting traffic" is convergence: the first moment after which no later sample reaches the
victim (a victim that is never reached after the fault converged at 0 s). Resolution is the
series' sample interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Sample = tuple[float, str]


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
    after = [(t, w) for t, w in ordered if t >= fault_ms]
    window = [(t, w) for t, w in after if readmitted_at_ms is None or t < readmitted_at_ms]
    errs = [(t, w) for t, w in ordered if w.startswith("!")]
    by_kind: dict[str, int] = {}
    for _, w in errs:
        by_kind[w[1:]] = by_kind.get(w[1:], 0) + 1
    errs_after = [t for t, _ in errs if t >= fault_ms]
    last_error = _s(errs_after[-1] - fault_ms) if errs_after else None
    victim_hits = [t for t, w in window if w == victim]
    if not victim_hits:
        gone: float | None = 0.0
    else:
        later = [t for t, _ in window if t > victim_hits[-1]]
        gone = _s(later[0] - fault_ms) if later else None
    back = None
    if readmitted_at_ms is not None:
        hits = [t for t, w in after if t >= readmitted_at_ms and w == victim]
        back = _s(hits[0] - readmitted_at_ms) if hits else None
    new = [t for t, w in after if not w.startswith("!") and w not in original]
    replacement = _s(new[0] - fault_ms) if new else None
    failover = None if gone is None else max(gone, last_error or 0.0)
    err_tl, share_tl = per_second(ordered, fault_ms, victim)
    counts: dict[str, int] = {}
    for _, w in ordered:
        if not w.startswith("!"):
            counts[w] = counts.get(w, 0) + 1
    return Failover(len(ordered), len(errs), by_kind, last_error, gone, back, replacement, failover,
                    err_tl, share_tl, dict(sorted(counts.items())))
