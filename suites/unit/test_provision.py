"""`doctor --fix` restarting a dockerd it started itself: the exited child is a zombie until reaped,
and must count as stopped (on a bare machine the restart for the runtime wrapper waited 120 s on it
and then failed)."""

from __future__ import annotations

import os
import subprocess
import time

from proxylab.provision import _running


def test_a_live_process_is_running() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert _running(str(child.pid))
    finally:
        child.kill()
        child.wait()


def test_an_exited_unreaped_child_is_not_running() -> None:
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until it has exited, without reaping it
        with open(f"/proc/{child.pid}/stat") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                break
        time.sleep(0.05)
    assert not _running(str(child.pid))
    assert not os.path.exists(f"/proc/{child.pid}")  # _running reaped it


def test_a_missing_process_is_not_running() -> None:
    assert not _running("999999999")
