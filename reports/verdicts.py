"""Whether two runs agree test by test: the check behind a change that must not change behaviour
(a refactor, an upgrade of a tool the harness uses), run as ``proxylab verdicts BEFORE AFTER``.

Figures are not compared here (the report's history and ``significance`` do that with their
noise); only each test's verdict per mode. A test present in one run only is listed apart: it
was added, removed or renamed, which is not a changed verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .load import ModeRun

TestKey = tuple[str, str]  # (mode, pytest node id)


@dataclass(frozen=True)
class VerdictChange:
    mode: str
    test: str
    before: str
    after: str
    reason: str  # the "after" run's reason (or the "before" run's when "after" has none)


@dataclass
class Comparison:
    agree: dict[str, int] = field(default_factory=dict)  # verdict -> tests with it in both runs
    changed: list[VerdictChange] = field(default_factory=list)
    only_before: list[TestKey] = field(default_factory=list)
    only_after: list[TestKey] = field(default_factory=list)
    modes_before: list[str] = field(default_factory=list)
    modes_after: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        """Every test present in both runs has the same verdict, and both ran the same modes."""
        return not self.changed and self.modes_before == self.modes_after


def verdicts(runs: Sequence[ModeRun]) -> dict[TestKey, tuple[str, str]]:
    """(mode, test id) -> (verdict, reason) over one run's results files. A mode whose cluster never
    came up has no tests; its status is in ``run.mode_status``, compared as the test id ``(mode)``."""
    out: dict[TestKey, tuple[str, str]] = {}
    for run in runs:
        status = run.run.get("mode_status")
        if status is not None:
            out[(run.mode, "(mode)")] = (str(status), str(run.run.get("mode_reason", "")))
        for t in run.tests:
            out[(run.mode, t["id"])] = (t["verdict"], t.get("reason", ""))
    return out


def compare(before: Sequence[ModeRun], after: Sequence[ModeRun]) -> Comparison:
    b, a = verdicts(before), verdicts(after)
    c = Comparison(modes_before=sorted({r.mode for r in before}), modes_after=sorted({r.mode for r in after}))
    for key in sorted(b.keys() | a.keys()):
        if key not in a:
            c.only_before.append(key)
        elif key not in b:
            c.only_after.append(key)
        elif b[key][0] == a[key][0]:
            c.agree[b[key][0]] = c.agree.get(b[key][0], 0) + 1
        else:
            c.changed.append(VerdictChange(key[0], key[1], b[key][0], a[key][0], a[key][1] or b[key][1]))
    return c


def describe(c: Comparison) -> list[str]:
    """The comparison as lines for a terminal: the summary first, then each difference."""
    agree = ", ".join(f"{n} {v}" for v, n in sorted(c.agree.items())) or "none"
    lines = [f"verdicts: {sum(c.agree.values())} tests in both runs agree ({agree}); {len(c.changed)} changed; "
             f"{len(c.only_before)} only before, {len(c.only_after)} only after"]
    if c.modes_before != c.modes_after:
        lines.append(f"modes differ: before {', '.join(c.modes_before)}; after {', '.join(c.modes_after)}")
    lines += [f"CHANGED  {ch.mode}  {ch.test}: {ch.before} -> {ch.after}" + (f" ({ch.reason[:200]})" if ch.reason else "")
              for ch in c.changed]
    lines += [f"before only  {mode}  {test}" for mode, test in c.only_before]
    lines += [f"after only   {mode}  {test}" for mode, test in c.only_after]
    return lines
