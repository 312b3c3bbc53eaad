"""Statistics behind the verdicts (scipy), kept pure so they are unit-tested on their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scipy import stats as sp


@dataclass(frozen=True)
class Fairness:
    """How evenly requests spread over backends.

    Verdict: fair when the chi-square goodness-of-fit test against the uniform distribution does
    not reject at ``alpha`` (p >= alpha) AND no backend is off its fair share by more than
    ``max_relative_deviation`` (an effect-size bound: with many requests a tiny, harmless skew
    becomes "significant", and with few a large one does not).
    """

    n: int
    counts: dict[str, int]
    chi2: float
    p_value: float
    alpha: float
    max_relative_deviation: float
    deviation_bound: float
    jain_index: float

    @property
    def fair(self) -> bool:
        return self.p_value >= self.alpha and self.max_relative_deviation <= self.deviation_bound

    def as_metrics(self) -> dict[str, object]:
        return asdict(self) | {"fair": self.fair, "test": "chi-square goodness of fit vs uniform"}


def jain_index(values: Sequence[float]) -> float:
    """Jain's fairness index: 1.0 perfectly even, 1/n when one backend takes everything."""
    total, squares = sum(values), sum(v * v for v in values)
    return (total * total) / (len(values) * squares) if squares else 0.0


def fairness(counts: dict[str, int], backends: Sequence[str], alpha: float = 0.001,
             deviation_bound: float = 0.20) -> Fairness:
    """Counts per backend (backends that got nothing count as 0) against a uniform share."""
    observed = [counts.get(b, 0) for b in backends]
    unknown = set(counts) - set(backends)
    if unknown:
        raise ValueError(f"answers from pods that are not backends: {sorted(unknown)}")
    n = sum(observed)
    if n == 0 or not backends:
        raise ValueError("no requests were answered")
    expected = n / len(backends)
    chi2, p = sp.chisquare(observed)
    max_dev = max(abs(o - expected) / expected for o in observed)
    return Fairness(n, dict(zip(backends, observed, strict=True)), float(chi2), float(p), alpha, max_dev,
                    deviation_bound, jain_index(observed))
