"""How long the Services sweep waits for the proxy at K Services (pure).

Fixed bounds did not hold at 30,000 Services. Measured on 2026-12-03 (2-core machine, kube-proxy
iptables with the nf_tables backend of iptables 1.8.9, `pytest suites/performance/test_programming.py
-m e2e --proxy-mode iptables --perf-services-sweep 1000,30000`): one `iptables-restore` on each of
the three nodes ran for more than 6 minutes (ps: 6 min 15 s elapsed and still running), and the
new-endpoint measurement, which waited a fixed 60 s for a Service without endpoints to be refused,
timed out and failed the step (its data-path figures, already measured, were lost with it: fixed
in suites/performance/test_programming.py, which now keeps a failed step's figures). So the
bounds grow with what the proxy just showed at this K: the time from the last create call until
the last Service answered is one programming round, and one more change may have to wait for the
round in progress and then a round of its own.
"""

from __future__ import annotations

import math

CHANGE_MIN_S = 120  # a change's bound where the proxy programs quickly (the earlier fixed bound)
CHANGE_SLACK_S = 30  # probe start-up and the API server's part
SETTLE_MIN_S = 600  # the bulk's bound at small K (the earlier fixed bound)
SETTLE_S_PER_SERVICE = 0.02  # 600 s at 30,000 Services, 1,000 s at 50,000


def settle_deadline_s(services: int) -> int:
    """How long the last of ``services`` Services may take to answer after the bulk creation (whole s)."""
    return max(SETTLE_MIN_S, math.ceil(services * SETTLE_S_PER_SERVICE))


def change_deadline_s(settle_s: float) -> int:
    """How long one more change (a new Service, endpoint, or refusal) may take to be programmed,
    given that the proxy took ``settle_s`` to program the bulk's last Service at this K.

    A round that includes the last Service starts after its create call, so ``settle_s`` is at
    least one whole round; a change waits at most for the round in progress and one of its own:
    two rounds, plus slack, never less than CHANGE_MIN_S. Whole seconds (the probe takes an integer).
    """
    if not math.isfinite(settle_s) or settle_s < 0:
        raise ValueError(f"settle time must be a finite number of seconds >= 0, got {settle_s!r}")
    return max(CHANGE_MIN_S, math.ceil(2 * settle_s + CHANGE_SLACK_S))
