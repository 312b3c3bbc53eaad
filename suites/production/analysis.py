"""Pure analysis of the production scenarios' probe series (unit-tested in suites/unit/test_production_analysis.py).

Samples are :class:`proxylab.convergence.Sample`: the send time in wall-clock epoch milliseconds
(the probe pod shares the host kernel's clock with the harness) and the answering pod or
``"!<failure kind>"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proxylab.convergence import Sample, first_at


@dataclass(frozen=True)
class Switchover:
    """How one long-lived UDP flow moved from a deleted backend to its replacement.

    ``switched_ms``: from the deletion to the first answer from another pod after the old pod's
    last answer (None: no other pod answered after it, i.e. the flow is still unanswered or on the
    old pod at the end). Losses after that moment (a starved probe, a dropped datagram) do not
    move it: they are counted in ``lost_after_switch``. ``first_new_ms``: from the deletion to the
    first answer from any other pod. ``lost_before_switch``: datagrams sent from the deletion up
    to ``switched_ms`` (all of them after it when it is None) that went unanswered.
    ``old_answers``: answers from the old pod to datagrams sent at or after the deletion.
    """

    switched_ms: float | None
    first_new_ms: float | None
    sent: int
    lost_before_switch: int
    lost_after_switch: int
    old_answers: int
    last_sample_ms: float | None  # the last datagram's send time, relative to the deletion

    def switched_after_ready_ms(self, ready_after_delete_ms: float) -> float | None:
        """The switch-over relative to the moment the new backend became Ready (negative: before)."""
        return None if self.switched_ms is None else self.switched_ms - ready_after_delete_ms


def udp_switchover(samples: Sequence[Sample], deleted_ms: float, old_pod: str) -> Switchover:
    """The switch-over of a one-socket UDP series from ``old_pod`` (deleted at ``deleted_ms``)."""
    after = sorted(s for s in samples if s.t_ms >= deleted_ms)

    def is_new(who: str) -> bool:
        return not who.startswith("!") and who != old_pod

    last_old = max((s.t_ms for s in after if s.who == old_pod), default=None)
    if last_old is None:
        switched = first_at(after, deleted_ms, is_new)
    else:
        later = [s for s in after if s.t_ms > last_old]
        hit = first_at(later, last_old, is_new)
        switched = None if hit is None else last_old + hit - deleted_ms
    switch_t = None if switched is None else deleted_ms + switched
    return Switchover(
        switched_ms=switched, first_new_ms=first_at(after, deleted_ms, is_new), sent=len(after),
        lost_before_switch=sum(1 for s in after if s.failed and (switch_t is None or s.t_ms < switch_t)),
        lost_after_switch=sum(1 for s in after if s.failed and switch_t is not None and s.t_ms >= switch_t),
        old_answers=sum(1 for s in after if s.who == old_pod),
        last_sample_ms=(after[-1].t_ms - deleted_ms) if after else None,
    )


@dataclass(frozen=True)
class Fallback:
    """Requests sent while every endpoint was terminating (a window of the series).

    ``served_for_ms``: from the window's start to the last successful answer in it (how long
    traffic kept flowing); ``by_terminating``: answers from the terminating pods;
    ``by_others``: answers from any other pod.
    """

    sent: int
    failed: int
    by_terminating: int
    by_others: int
    served_for_ms: float | None
    failures: dict[str, int]

    @property
    def answered_fraction(self) -> float:
        return (self.sent - self.failed) / self.sent if self.sent else 0.0


def fallback_window(samples: Sequence[Sample], start_ms: float, end_ms: float, terminating: set[str]) -> Fallback:
    """Requests started in [start_ms, end_ms) while ``terminating`` pods were the only endpoints."""
    window = sorted(s for s in samples if start_ms <= s.t_ms < end_ms)
    ok = [s for s in window if not s.failed]
    failures: dict[str, int] = {}
    for s in window:
        if s.kind is not None:
            failures[s.kind] = failures.get(s.kind, 0) + 1
    return Fallback(
        sent=len(window), failed=len(window) - len(ok),
        by_terminating=sum(1 for s in ok if s.who in terminating),
        by_others=sum(1 for s in ok if s.who not in terminating),
        served_for_ms=(ok[-1].t_ms - start_ms) if ok else None,
        failures=failures,
    )


def runs(samples: Sequence[Sample], start_ms: float, rename: dict[str, str] | None = None) -> list[list[object]]:
    """The series from ``start_ms`` on as runs of the same outcome: [offset_ms, who, count] with
    ``who`` renamed through ``rename`` (e.g. {old_pod: "old"}); a compact timeline for the report."""
    out: list[list[object]] = []
    for s in sorted(x for x in samples if x.t_ms >= start_ms):
        who = (rename or {}).get(s.who, s.who)
        if out and out[-1][1] == who:
            out[-1][2] = int(str(out[-1][2])) + 1
        else:
            out.append([round(s.t_ms - start_ms), who, 1])
    return out
