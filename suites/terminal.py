"""Progress that must reach the terminal (and `proxylab run`'s output) while pytest captures a
test's output: cluster creation, a user's cluster being prepared, the sweep's bulk creation."""

from __future__ import annotations

import contextlib

import pytest


def uncaptured(config: pytest.Config) -> contextlib.AbstractContextManager[object]:
    """pytest's output capture suspended for the ``with`` block (a no-op where capture is off)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    return capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
