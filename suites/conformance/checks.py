"""Assertions shared by the conformance tests and by the harness self-test that breaks the
cluster on purpose (test_harness_detects_breakage.py): the same check must go red there."""

from __future__ import annotations

import time
from typing import Any

from proxylab.convergence import Sample, converged_at, parse_series
from proxylab.stats import Fairness, fairness
from suites.namespaces import Namespace, in_background


def assert_all_backends_answer(ns: Namespace, client_pod: str, url: str, backends: set[str], requests: int,
                               metrics: dict[str, Any], key: str) -> dict[str, int]:
    """Every request succeeds and every backend answers at least once."""
    answer = ns.probe(client_pod, "get", url, str(requests))
    metrics[key] = {"counts": answer["counts"], "errors": answer["errors"], "requests": requests}
    assert answer["errors"] == {}, f"{key}: requests failed: {answer['errors']}"
    assert set(answer["counts"]) == backends, \
        f"{key}: answered by {sorted(answer['counts'])}, expected every backend {sorted(backends)}"
    counts: dict[str, int] = answer["counts"]
    return counts


def assert_fair(counts: dict[str, int], backends: list[str], metrics: dict[str, Any]) -> Fairness:
    """Chi-square goodness of fit (alpha 0.001) and no backend > 20 % off its share."""
    result = fairness(counts, backends, alpha=0.001, deviation_bound=0.20)
    metrics.update(result.as_metrics())
    assert result.p_value >= result.alpha, \
        f"distribution rejected as non-uniform: chi2={result.chi2:.1f}, p={result.p_value:.2e} < {result.alpha}"
    assert result.max_relative_deviation <= result.deviation_bound, \
        f"a backend is {result.max_relative_deviation:.0%} off its fair share (bound 20 %): {result.counts}"
    return result


def assert_victim_excluded(samples: list[Sample], victim: str, after_ms: float, bound_s: float,
                           metrics: dict[str, Any], key: str) -> float:
    """After ``after_ms`` the victim stops answering within ``bound_s`` and never answers again."""
    ms = converged_at(samples, after_ms, lambda who: who != victim)
    metrics[key] = None if ms is None else round(ms / 1000, 3)
    assert ms is not None, f"{victim} still received new connections at the end of the probe"
    assert ms / 1000 <= bound_s, f"{victim} kept receiving connections for {ms / 1000:.1f}s (bound {bound_s}s)"
    return ms / 1000


INTERVAL_MS = 50


def now_ms() -> float:
    """Wall-clock epoch milliseconds: the time base of the probe's ``series`` samples (the probe
    pod shares the host kernel's clock), so a fault's moment compares with them directly."""
    return time.time() * 1000


class Series:
    """``echo series`` running in the background in a client pod."""

    def __init__(self, ns: Namespace, client: str, url: str, duration_ms: int) -> None:
        self._run = in_background(lambda: ns.probe(client, "series", url, str(duration_ms), str(INTERVAL_MS),
                                                   timeout=duration_ms / 1000 + 60))

    def samples(self, join_timeout_s: float, before_ms: float) -> list[Sample]:
        """Wait for the probe to end; its samples (epoch ms, pod or "!kind").

        Fails when the probe started after ``before_ms`` (the first fault): nothing was
        observed before the change, so no convergence time can be measured from it."""
        result = self._run.result(join_timeout_s)  # re-raises the probe's own error
        assert "samples" in result, f"the series probe gave no result: {result}"
        started = float(result["started"])
        assert started < before_ms, (f"the series probe started {(started - before_ms) / 1000:.1f}s after the "
                                     "fault: the exec into the client pod was too slow to observe it")
        return parse_series(result["samples"])
