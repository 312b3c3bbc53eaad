"""The "Where the modes differ" findings, on synthetic repeats (made-up numbers, not measurements)."""

from __future__ import annotations

from typing import Any

from proxylab.perf.summary import summarize
from reports.differences import differences
from reports.headline import table
from reports.load import ModeRun
from reports.sources import SCALE_TEST

from .report_fixtures import doc, rec, run

SCALE = f"suites/performance/test_programming.py::{SCALE_TEST}"
NEWCONN = "suites/performance/test_throughput.py::test_cluster_ip[newconn]"
FLAT = [3000.0, 3030.0, 2985.0, 3010.0, 2992.0]


def curve(per_k: dict[int, list[float]]) -> tuple[dict[str, float], dict[str, Any]]:
    return ({str(k): sum(v) / len(v) for k, v in per_k.items()},
            {str(k): summarize(v).as_metrics() for k, v in per_k.items()})


def scale_run(mode: str, at_10k: list[float], ratio: list[float] | None = None) -> ModeRun:
    rps, rps_stats = curve({1000: FLAT, 10000: at_10k})
    metrics: dict[str, Any] = {"newconn_rps": rps, "newconn_rps_stats": rps_stats}
    tests = [rec(SCALE, **metrics)]
    if ratio is not None:
        tests.append(rec(NEWCONN, ratio_to_baseline=sum(ratio) / len(ratio),
                         ratio_to_baseline_stats=summarize(ratio).as_metrics()))
    return run(doc(mode, tests=tests))


def _diff(runs: list[ModeRun]) -> Any:
    return differences(table(runs), runs)


def test_a_change_along_k_names_the_mode_its_size_and_the_modes_within_noise() -> None:
    d = _diff([scale_run("iptables", [1860.0, 1875.0, 1850.0, 1880.0, 1862.0]),
               scale_run("nftables", [3005.0, 3020.0, 2990.0, 3001.0, 2999.0])])
    [f] = d.along
    assert f.text.startswith("iptables: new-connection throughput at K = 10,000 Services is 0.62\u00d7 its value at "
                             "K = 1,000 (Welch p < 0.001); nftables stayed within noise (1.00\u00d7, Welch p = ")
    # the same repeats at the largest K also tell the modes apart (absolute rate, same run)
    [b] = d.between
    assert b.text.startswith("many Services: new-connection throughput (K = 10,000 Services): nftables better "
                             "(higher): 1.61\u00d7 iptables (Welch p < 0.001)")
    assert d.curves == 2 and d.quiet() == []


def test_a_difference_between_modes_is_one_sentence_with_size_and_p() -> None:
    d = _diff([scale_run("iptables", FLAT, ratio=[0.50, 0.51, 0.49]),
               scale_run("ebpf", FLAT, ratio=[0.70, 0.71, 0.69])])
    [f] = d.between
    assert f.text.startswith("ClusterIP new-connection throughput / pod-IP baseline: ebpf better (higher): "
                             "1.40\u00d7 iptables (Welch p < 0.001)")
    assert d.quiet() == ["No mode changed measurably from the smallest to the largest number of Services (2 curves tested)."]


def test_nothing_significant_is_said_plainly() -> None:
    d = _diff([scale_run("iptables", [3005.0, 3020.0, 2990.0, 3001.0, 2999.0], ratio=[0.50, 0.55, 0.47]),
               scale_run("nftables", [2990.0, 3022.0, 3008.0, 2996.0, 3011.0], ratio=[0.52, 0.49, 0.53])])
    assert d.findings == []
    assert d.quiet() == ["No measurable difference between the modes in this run (2 figures compared).",
                         "No mode changed measurably from the smallest to the largest number of Services (2 curves tested)."]


def test_unreliable_and_untestable_figures_make_no_finding_and_are_listed() -> None:
    noisy = [1500.0, 2400.0, 1900.0, 1300.0, 2600.0]  # CV ~ 28 %
    d = _diff([scale_run("iptables", noisy, ratio=[0.50, 0.51, 0.49]), scale_run("nftables", [1860.0])])
    assert d.findings == []
    assert any("iptables K = 10,000: unreliable (CV 2" in x for x in d.left_out)
    assert any("nftables K = 10,000: n < 2 (n = 1)" in x for x in d.left_out)
    assert not any("only mode" in x for x in d.left_out), "a figure of one mode is not 'left out' of anything"
    assert d.quiet()[0].startswith("Nothing could be tested")
