"""Waiting by polling a condition with a deadline; timeouts name what was awaited and the last state."""

from __future__ import annotations

import time
from collections.abc import Callable

from .errors import WaitTimeout


def wait_for(condition: Callable[[], tuple[bool, str]], *, timeout: float, what: str, interval: float = 1.0) -> float:
    """Poll ``condition`` (returns (done, state description)) until done; returns seconds waited.

    Exceptions from the condition count as "not yet" (the API server may still be starting), and
    their text becomes the last state seen.
    """
    start = time.monotonic()
    last = "not checked yet"
    while True:
        try:
            done, last = condition()
        except Exception as exc:
            done, last = False, f"{type(exc).__name__}: {exc}"
        if done:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last state: {last}")
        time.sleep(interval)
