"""The pure analysis behind suites/production: a UDP flow's switch-over to a replacement backend,
the requests answered while every endpoint was terminating, and the compact timeline."""

from __future__ import annotations

from proxylab.convergence import Sample
from suites.production.analysis import fallback_window, runs, udp_switchover

OLD, NEW = "old-pod", "new-pod"


def series(*spans: tuple[str, int], start: float = 0, interval: float = 50) -> list[Sample]:
    """Consecutive samples: ``(who, n)`` spans, one every ``interval`` ms from ``start``."""
    out: list[Sample] = []
    for who, n in spans:
        base = len(out)
        out.extend([Sample(start + interval * (base + i), who) for i in range(n)])
    return out


def test_switchover_after_an_outage() -> None:
    # 0..950 old, then 20 lost (1000..1950), then new from 2000
    s = series((OLD, 20), ("!timeout", 20), (NEW, 40))
    sw = udp_switchover(s, deleted_ms=975, old_pod=OLD)
    assert sw.switched_ms == 2000 - 975 and sw.first_new_ms == 2000 - 975
    assert sw.lost_before_switch == 20 and sw.lost_after_switch == 0 and sw.old_answers == 0
    assert sw.sent == 60 and sw.last_sample_ms == 3950 - 975
    assert sw.switched_after_ready_ms(1500) == 2000 - 975 - 1500


def test_old_answers_after_the_deletion_delay_the_switchover() -> None:
    # The old pod answers briefly after the deletion, a new answer in between does not count.
    s = series((OLD, 10), (NEW, 1), (OLD, 2), ("!timeout", 3), (NEW, 10))
    sw = udp_switchover(s, deleted_ms=500, old_pod=OLD)
    assert sw.first_new_ms == 0 and sw.old_answers == 2
    assert sw.switched_ms == 800 - 500 and sw.lost_before_switch == 3


def test_losses_after_the_switch_do_not_move_it() -> None:
    s = series((OLD, 4), ("!timeout", 2), (NEW, 5), ("!timeout", 1), (NEW, 5))
    sw = udp_switchover(s, deleted_ms=200, old_pod=OLD)
    assert sw.switched_ms == 300 - 200 and sw.lost_before_switch == 2 and sw.lost_after_switch == 1


def test_a_flow_stuck_on_the_old_pod_or_unanswered_never_switches() -> None:
    stuck = udp_switchover(series((OLD, 30)), deleted_ms=100, old_pod=OLD)
    assert stuck.switched_ms is None and stuck.first_new_ms is None and stuck.old_answers == 28
    lost = udp_switchover(series((OLD, 5), ("!timeout", 30)), deleted_ms=250, old_pod=OLD)
    assert lost.switched_ms is None and lost.lost_before_switch == 30 and lost.lost_after_switch == 0
    back = udp_switchover(series((OLD, 5), (NEW, 5), (OLD, 1)), deleted_ms=250, old_pod=OLD)
    assert back.switched_ms is None and back.first_new_ms == 0


def test_no_samples_after_the_deletion() -> None:
    sw = udp_switchover(series((OLD, 3)), deleted_ms=1000, old_pod=OLD)
    assert sw.sent == 0 and sw.switched_ms is None and sw.last_sample_ms is None


def test_fallback_window_counts_the_terminating_pods_answers() -> None:
    s = series(("a", 5), ("b", 5), ("!refused", 2), ("a", 3), ("c", 1), ("!timeout", 4))
    fb = fallback_window(s, start_ms=250, end_ms=50 * 16, terminating={"a", "b"})
    # window: samples 5..15: b x5, refused x2, a x3, c x1
    assert fb.sent == 11 and fb.failed == 2 and fb.by_terminating == 8 and fb.by_others == 1
    assert fb.failures == {"refused": 2} and fb.served_for_ms == 750 - 250
    assert abs(fb.answered_fraction - 9 / 11) < 1e-9


def test_fallback_window_empty_or_all_failed() -> None:
    assert fallback_window([], 0, 100, {"a"}).answered_fraction == 0.0
    fb = fallback_window(series(("!refused", 4)), 0, 1000, {"a"})
    assert fb.served_for_ms is None and fb.failed == 4 and fb.failures == {"refused": 4}


def test_runs_compress_the_timeline() -> None:
    s = series((OLD, 2), ("!timeout", 3), (NEW, 2), start=1000)
    assert runs(s, 1050, {OLD: "old"}) == [[0, "old", 1], [50, "!timeout", 3], [200, NEW, 2]]
