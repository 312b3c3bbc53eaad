"""Cluster ownership (proxylab/ownership.py) with real processes: a cluster whose creator was
killed is stale, one whose creator runs or that was released is not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from proxylab import ownership


def test_a_cluster_is_stale_once_its_owner_is_killed(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ownership.claim(tmp_path, proc.pid)
        assert ownership.stale_reason(tmp_path) is None
    finally:
        proc.kill()
        proc.wait()
    reason = ownership.stale_reason(tmp_path)
    assert reason is not None and str(proc.pid) in reason


def test_a_recycled_pid_is_not_the_owner(tmp_path: Path) -> None:
    owner = ownership.claim(tmp_path)
    (tmp_path / ownership.OWNER_FILE).write_text(json.dumps({"pid": owner.pid, "start_time": "1"}))
    assert ownership.stale_reason(tmp_path) is not None


def test_released_or_finished_without_owner_is_kept_unfinished_is_stale(tmp_path: Path) -> None:
    ownership.claim(tmp_path)
    ownership.release(tmp_path)
    assert ownership.stale_reason(tmp_path) == "its creation never finished and no process owns it"
    (tmp_path / "cluster.json").write_text("{}")
    assert ownership.stale_reason(tmp_path) is None
    assert ownership.stale_reason(None) is not None
    assert ownership.stale_reason(tmp_path / "missing") is not None


def test_an_unreadable_owner_record_is_never_taken_for_stale(tmp_path: Path) -> None:
    (tmp_path / ownership.OWNER_FILE).write_text("{")
    assert ownership.stale_reason(tmp_path) is None


def test_a_killed_owner_not_yet_reaped_is_not_alive(tmp_path: Path) -> None:
    """A zombie keeps its /proc entry (and start time) until reaped; in CI the kill tests' resumed
    run found the killed run's pytest as a zombie and took its cluster for one in use."""
    import os
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ownership.claim(tmp_path, proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while "Z" not in Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[:1]:
            assert time.monotonic() < deadline, "the child did not become a zombie"
            time.sleep(0.05)
        reason = ownership.stale_reason(tmp_path)  # not reaped yet: still a zombie
        assert reason is not None and str(proc.pid) in reason
    finally:
        proc.kill()
        proc.wait()
