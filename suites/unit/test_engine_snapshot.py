"""The session's engine/node check: which changes end a session (no engine needed: the docker CLI's
answers are stood in for; suites/resilience restarts a real engine)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from proxylab import docker

NODES = ["c-control-plane", "c-worker"]


def _answers(monkeypatch: pytest.MonkeyPatch, engine: str | None, lines: str) -> None:
    monkeypatch.setattr(docker, "engine_process", lambda: engine)

    def fake_run(argv: Sequence[str], **_: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(argv), 0, lines, "")

    monkeypatch.setattr(docker, "run", fake_run)


def test_nothing_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, "pid 1 started at tick 5", "/c-control-plane true T1\n/c-worker true T2\n")
    snap = docker.EngineSnapshot.take(NODES)
    assert snap.nodes == {"c-control-plane": "T1", "c-worker": "T2"} and snap.changes() is None


def test_engine_restart_and_node_changes_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, "pid 1 started at tick 5", "/c-control-plane true T1\n/c-worker true T2\n")
    snap = docker.EngineSnapshot.take(NODES)
    _answers(monkeypatch, "pid 9 started at tick 7", "/c-control-plane true T3\n/c-worker false 0001-01-01\n")
    change = snap.changes()
    assert change is not None
    assert "the Docker engine restarted (pid 1 started at tick 5 -> pid 9 started at tick 7)" in change
    assert "c-control-plane restarted at T3" in change and "c-worker is not running" in change


def test_a_remote_engine_is_judged_by_its_nodes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, None, "/c-control-plane true T1\n/c-worker true T2\n")
    snap = docker.EngineSnapshot.take(NODES)
    assert snap.changes() is None
    _answers(monkeypatch, None, "")
    assert snap.changes() == "node container c-control-plane is not running; node container c-worker is not running"


def test_every_node_down_waits_for_the_engine_to_name_its_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A restarting dockerd stops its nodes before its pid changes: the check waits for the change."""
    _answers(monkeypatch, "pid 1 started at tick 5", "/c-control-plane true T1\n/c-worker true T2\n")
    snap = docker.EngineSnapshot.take(NODES)
    _answers(monkeypatch, "pid 1 started at tick 5", "")
    engines = iter(["pid 1 started at tick 5", "pid 9 started at tick 7"])
    monkeypatch.setattr(docker, "engine_process", lambda: next(engines, "pid 9 started at tick 7"))
    monkeypatch.setattr("proxylab.docker.time.sleep", lambda _: None)
    change = snap.changes()
    assert change is not None and "the Docker engine restarted (pid 1 started at tick 5 -> pid 9" in change


def test_every_node_down_under_the_same_engine_blames_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    _answers(monkeypatch, "pid 1 started at tick 5", "/c-control-plane true T1\n/c-worker true T2\n")
    snap = docker.EngineSnapshot.take(NODES)
    _answers(monkeypatch, "pid 1 started at tick 5", "")
    change = snap.changes(settle_s=0)
    assert change is not None and "the Docker engine (pid 1 started at tick 5) stopped every node" in change
