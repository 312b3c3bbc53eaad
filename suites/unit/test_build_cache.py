from __future__ import annotations

from pathlib import Path

import pytest

from proxylab.errors import BuildFailed, ProxylabError
from proxylab.images.steps import Step, StepRunner, content_hash


def test_content_hash_follows_file_content(tmp_path: Path) -> None:
    f = tmp_path / "a"
    f.write_text("one")
    h1 = content_hash({"x": 1}, f)
    assert content_hash({"x": 1}, f) == h1
    f.write_text("two")
    assert content_hash({"x": 1}, f) != h1
    assert content_hash({"x": 2}, f) != content_hash({"x": 1}, f)


def test_steps_run_once_per_key_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXYLAB_CACHE", str(tmp_path))
    calls: list[str] = []
    out = tmp_path / "out"

    def make(key: str) -> Step:
        def action() -> None:
            calls.append(key)
            out.write_text(key)

        return Step("s", key, action, "test step", out.exists)

    StepRunner(1, out=lambda s: None).run(make("k1"))
    StepRunner(1, out=lambda s: None).run(make("k1"))
    assert calls == ["k1"], "an unchanged step must not rebuild"
    out.unlink()
    StepRunner(1, out=lambda s: None).run(make("k1"))
    assert calls == ["k1", "k1"], "a step whose output vanished must rebuild"
    StepRunner(1, out=lambda s: None).run(make("k2"))
    assert calls[-1] == "k2", "a changed input must rebuild"


def test_failed_step_leaves_no_stamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXYLAB_CACHE", str(tmp_path))

    def boom() -> None:
        raise ProxylabError("module example.com/x@v1 not served")

    step = Step("bad", "k", boom, "x")
    with pytest.raises(BuildFailed, match=r"example\.com/x@v1"):
        StepRunner(1, out=lambda s: None).run(step)
    assert not step.up_to_date()


def test_go_build_key_follows_a_local_replace_by_content_not_location(tmp_path: Path) -> None:
    from proxylab.images.gobuild import GoBuild

    def key(where: Path) -> str:
        spec = GoBuild("x", "example.com/m", "v1.0.0", ("example.com/m/cmd",),
                       replaces=("example.com/gone=example.com/other@v1.2.0", f"example.com/shim={where}"))
        return content_hash(spec.cache_inputs())

    one, two = tmp_path / "clone1" / "shim", tmp_path / "clone2" / "shim"
    for d in (one, two):
        d.mkdir(parents=True)
        (d / "go.mod").write_text("module example.com/shim\n")
    assert key(one) == key(two), "the same shim in another clone must not rebuild"
    (two / "go.mod").write_text("module example.com/shim\n\ngo 1.26\n")
    assert key(one) != key(two), "a changed shim must rebuild"
