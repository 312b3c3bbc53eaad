"""kube-proxy's own histograms from Prometheus text exposition (pure).

Only what the suite needs: the ``_bucket``/``_sum``/``_count`` series of one histogram (labels
other than ``le`` are summed over), the difference between two scrapes (what happened in
between), several nodes added together, and a quantile estimated like PromQL's
``histogram_quantile`` (linear interpolation inside the bucket; the +Inf bucket yields its lower
bound).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
_LE = re.compile(r'le="([^"]+)"')


@dataclass(frozen=True)
class Histogram:
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count
    sum: float = 0.0
    count: float = 0.0

    def minus(self, earlier: Histogram) -> Histogram:
        return Histogram({le: c - earlier.buckets.get(le, 0.0) for le, c in self.buckets.items()},
                         self.sum - earlier.sum, self.count - earlier.count)

    def plus(self, other: Histogram) -> Histogram:
        keys = set(self.buckets) | set(other.buckets)
        return Histogram({le: self.buckets.get(le, 0.0) + other.buckets.get(le, 0.0) for le in keys},
                         self.sum + other.sum, self.count + other.count)

    def quantile(self, q: float) -> float | None:
        if self.count <= 0 or not self.buckets:
            return None
        rank = q * self.count
        prev_le, prev_c = 0.0, 0.0
        for le in sorted(self.buckets):
            c = self.buckets[le]
            if c >= rank:
                if math.isinf(le):
                    return prev_le
                if c == prev_c:
                    return le
                return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
            prev_le, prev_c = le, c
        return prev_le

    def summary(self) -> dict[str, Any]:
        return {"count": round(self.count), "mean_s": round(self.sum / self.count, 4) if self.count else None,
                "p50_s": _r(self.quantile(0.5)), "p90_s": _r(self.quantile(0.9)), "p99_s": _r(self.quantile(0.99)),
                "method": "delta of cumulative histograms between scrapes, summed over nodes; "
                          "quantiles interpolated inside buckets as PromQL histogram_quantile"}


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def histogram(text: str, name: str, label_match: str | None = None) -> Histogram | None:
    """The histogram ``name`` from a scrape (summed over its label sets, or only over those whose
    labels contain ``label_match``), or None when the scrape does not have it."""
    buckets: dict[float, float] = {}
    total = count = 0.0
    found = False
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        metric, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        if label_match is not None and label_match not in labels:
            continue
        if metric == f"{name}_bucket":
            le_m = _LE.search(labels)
            if le_m:
                le = math.inf if le_m.group(1) == "+Inf" else float(le_m.group(1))
                buckets[le] = buckets.get(le, 0.0) + value
                found = True
        elif metric == f"{name}_sum":
            total += value
            found = True
        elif metric == f"{name}_count":
            count += value
            found = True
    return Histogram(buckets, total, count) if found else None


def delta_over_nodes(before: dict[str, str], after: dict[str, str], name: str,
                     label_match: str | None = None) -> Histogram | None:
    """Sum over nodes of (after - before) for histogram ``name``; nodes whose scrape lacks it are skipped."""
    result: Histogram | None = None
    for node, text in after.items():
        a = histogram(text, name, label_match)
        if a is None:
            continue
        d = a.minus(histogram(before.get(node, ""), name, label_match) or Histogram())
        result = d if result is None else result.plus(d)
    return result
