"""The production-behaviours section (suites/production, issue 11): per scenario, each mode's verdict
and the measured damage (gaps, failed requests, convergence times) side by side (pure).

A scenario's figures are the scalar top-level metrics its test recorded (numbers, booleans, short
strings); lists and mappings stay in results.json. No figure is ranked: these are single runs of
disruptive events, reported as measured."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .load import ModeRun

PREFIX = "suites/production/"
MAX_TEXT = 80  # longer strings are detail, not a figure


@dataclass(frozen=True)
class Scenario:
    """One production test (one parametrization) across the modes that ran it."""

    test_id: str
    verdicts: dict[str, str]  # mode -> verdict
    reasons: dict[str, str]  # mode -> failure / skip / known-difference reason (when not passed)
    figures: list[tuple[str, dict[str, object]]]  # (metric, mode -> value), in first-recorded order

    @property
    def name(self) -> str:
        return self.test_id.removeprefix(PREFIX)


@dataclass
class ProductionSection:
    scenarios: list[Scenario] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.scenarios


def _figure(value: object) -> bool:
    """Whether a metric value is a figure to show (a scalar, not detail)."""
    if isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and len(value) <= MAX_TEXT


def section(runs: Sequence[ModeRun]) -> ProductionSection:
    order: list[str] = []
    verdicts: dict[str, dict[str, str]] = {}
    reasons: dict[str, dict[str, str]] = {}
    figures: dict[str, dict[str, dict[str, object]]] = {}
    for run in runs:
        for test in run.tests:
            test_id = str(test.get("id", ""))
            if not test_id.startswith(PREFIX):
                continue
            if test_id not in verdicts:
                order.append(test_id)
                verdicts[test_id], reasons[test_id], figures[test_id] = {}, {}, {}
            verdicts[test_id][run.mode] = str(test.get("verdict"))
            if test.get("verdict") != "passed" and test.get("reason"):
                reasons[test_id][run.mode] = str(test["reason"])
            for key, value in (test.get("metrics") or {}).items():
                if _figure(value):
                    figures[test_id].setdefault(key, {})[run.mode] = value
    return ProductionSection([Scenario(t, verdicts[t], reasons[t], list(figures[t].items())) for t in order])
