"""The proxy's own histograms from Prometheus text exposition (pure).

The text is parsed by ``prometheus_client``'s parser; on top of it only what the suite needs: the
``_bucket``/``_sum``/``_count`` series of one histogram (labels other than ``le`` are summed over),
the difference between two scrapes (what happened in between), several nodes added together, and
a quantile estimated like PromQL's ``histogram_quantile`` (linear interpolation inside the
bucket; the +Inf bucket yields its lower bound).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


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


def _samples(text: str) -> Iterator[Sample]:
    """Every sample of a scrape. A scrape that is not exposition text (e.g. an error message where
    the endpoint did not answer) has none, like a scrape without the metric."""
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError:
        return
    for family in families:
        yield from family.samples


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def histogram(text: str, name: str, label_match: str | None = None) -> Histogram | None:
    """The histogram ``name`` from a scrape (summed over its label sets, or only over those whose
    labels, written ``k="v",...``, contain ``label_match``), or None when the scrape does not have it."""
    buckets: dict[float, float] = {}
    total = count = 0.0
    found = False
    for sample in _samples(text):
        if label_match is not None and label_match not in _labels_text(sample.labels):
            continue
        if sample.name == f"{name}_bucket" and "le" in sample.labels:
            le = float(sample.labels["le"])  # "+Inf" -> inf
            buckets[le] = buckets.get(le, 0.0) + sample.value
            found = True
        elif sample.name == f"{name}_sum":
            total += sample.value
            found = True
        elif sample.name == f"{name}_count":
            count += sample.value
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
