""""Where the modes differ": one sentence per statistically significant finding, nothing else.

Two kinds of finding (tests and thresholds in ``significance.py``):

- **between modes**: a headline figure (same metric id, same K) where at least one mode is
  significantly better than another; the sentence is the row's verdict;
- **within a mode, along K**: a curve (``headline.ALONG_K``) whose value at the largest K differs
  significantly from its value at the smallest K in that mode (Welch's t-test on the repeats at
  the two K's); the modes of the same curve that stayed within noise are named in the same
  sentence, so a reader sees both.

Figures that could not be tested (n < 2, a single mode) or are unreliable (CV above the bound, or
flagged by the suite) never make a finding; they are listed as left out. When nothing is
significant, ``quiet()`` says so in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from . import significance as sig
from . import sources
from .aggregate import mode_key
from .headline import ALONG_K, Figure, HeadlineRow, curve_at, fmt_k
from .load import ModeRun


@dataclass(frozen=True)
class Finding:
    kind: Literal["modes", "along_k"]
    text: str


@dataclass
class Differences:
    findings: list[Finding] = field(default_factory=list)
    compared: int = 0  # headline figures in which at least two modes were tested against each other
    curves: int = 0  # (curve, mode) pairs whose smallest and largest K were tested
    left_out: list[str] = field(default_factory=list)  # what could not be tested, and why

    @property
    def between(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "modes"]

    @property
    def along(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "along_k"]

    def quiet(self) -> list[str]:
        """Plain sentences for each kind of finding of which there is none."""
        if not self.compared and not self.curves:
            return ["Nothing could be tested for a difference in this run: every figure has fewer than two "
                    "repeats, was measured by one mode only, or is unreliable."]
        out = []
        if not self.between:
            out.append(f"No measurable difference between the modes in this run ({self.compared} figure"
                       f"{'s' if self.compared != 1 else ''} compared)." if self.compared else
                       "No figure could be compared between modes in this run.")
        if not self.along and self.curves:
            out.append(f"No mode changed measurably from the smallest to the largest number of Services "
                       f"({self.curves} curve{'s' if self.curves != 1 else ''} tested).")
        return out


def _between(rows: Sequence[HeadlineRow], out: Differences) -> None:
    for row in rows:
        r = row.ranking
        if r.status != "untestable":
            out.compared += 1
        if len(row.cells) > 1:  # a figure only one mode measured has nothing to be compared with
            out.left_out += [f"{row.label}: {mode} {why}" for mode, why in r.excluded.items()]
        if r.significant:
            out.findings.append(Finding("modes", f"{row.label}: {row.verdict()}."))


def _changed(mode: str, label: str, c: sig.Change, first: sig.Change | None) -> str:
    p = f"Welch {sig.fmt_p(c.p)}"
    if c.ratio is None:
        return (f"{mode}: {label} went from {c.mean_lo:.4g} at K = {fmt_k(c.k_lo)} to {c.mean_hi:.4g} at "
                f"K = {fmt_k(c.k_hi)} Services ({p})")
    if first is not None and (first.k_lo, first.k_hi) == (c.k_lo, c.k_hi):
        return f"{mode}: {sig.fmt_ratio(c.ratio)} ({p})"
    return (f"{mode}: {label} at K = {fmt_k(c.k_hi)} Services is {sig.fmt_ratio(c.ratio)} its value at "
            f"K = {fmt_k(c.k_lo)} ({p})")


def _along(fig: Figure, runs: Sequence[ModeRun], out: Differences) -> None:
    changes: dict[str, sig.Change] = {}
    for r in sorted(runs, key=lambda r: mode_key(r.mode)):
        src = sources.find(r, fig.id)
        if src is None:
            continue
        values, stats = curve_at(*src)
        if len(values) < 2 or not stats:
            continue  # one K, or a curve recorded without repeats: nothing to test, nothing to report
        lo, hi = min(values), max(values)
        s_lo, s_hi = sig.sample(stats.get(lo)), sig.sample(stats.get(hi))
        c = sig.change(lo, s_lo, hi, s_hi)
        if c is None:
            why = "; ".join(f"K = {fmt_k(k)}: {w}" for k, s in ((lo, s_lo), (hi, s_hi)) if (w := sig.excluded_reason(s)))
            out.left_out.append(f"{fig.label} from the smallest to the largest K: {r.mode} {why}")
            continue
        changes[r.mode] = c
    out.curves += len(changes)
    moved = {mode: c for mode, c in changes.items() if c.significant}
    if not moved:
        return
    first = None
    parts = []
    for mode, c in moved.items():
        parts.append(_changed(mode, fig.label, c, first))
        first = first or c
    still = [f"{mode} ({sig.fmt_ratio(c.ratio)}, Welch {sig.fmt_p(c.p)})" for mode, c in changes.items()
             if mode not in moved]
    if len(still) == 1:
        [(mode, c)] = [(mode, c) for mode, c in changes.items() if mode not in moved]
        parts.append(f"{mode} stayed within noise ({sig.fmt_ratio(c.ratio)}, Welch {sig.fmt_p(c.p)})")
    elif still:
        parts.append(f"{' and '.join(still)} stayed within noise")
    out.findings.append(Finding("along_k", "; ".join(parts) + "."))


def differences(rows: Sequence[HeadlineRow], runs: Sequence[ModeRun]) -> Differences:
    """The significant findings of the current runs (``rows`` = their headline table)."""
    out = Differences()
    _between(rows, out)
    for fig in ALONG_K:
        _along(fig, runs, out)
    return out
