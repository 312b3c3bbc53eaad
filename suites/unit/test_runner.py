from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxylab.errors import ProxylabError
from proxylab.modes import ProxyMode, all_modes
from proxylab.runner import (
    ModeOutcome,
    default_modes,
    modes_to_run,
    parse_modes,
    parse_suites,
    progress,
    pytest_argv,
    verdict_line,
)

IPT, NFT, IPVS = (ProxyMode.parse(m) for m in ("iptables", "nftables", "ipvs"))


def test_resume_skips_only_modes_whose_session_finished() -> None:
    docs: dict[ProxyMode, dict[str, Any] | None] = {
        IPT: {"run": {"finished": "2026-01-01T00:00:00Z"}}, NFT: {"run": {"finished": None}}, IPVS: None}
    assert modes_to_run([IPT, NFT, IPVS], docs) == [NFT, IPVS]


def test_default_modes_are_the_implemented_ones() -> None:
    assert parse_modes(None) == default_modes() == [m for m in all_modes() if m.implemented]
    assert parse_modes("nftables, ebpf") == [NFT, ProxyMode.parse("ebpf")]


def test_suites_that_do_not_exist_are_refused_with_the_available_ones(tmp_path: Path) -> None:
    (tmp_path / "suites" / "conformance").mkdir(parents=True)
    assert parse_suites(None, tmp_path) == ["conformance"]
    with pytest.raises(ProxylabError, match=r"performance do not exist.*available: conformance"):
        parse_suites("conformance,performance", tmp_path)


def test_one_pytest_per_mode_with_every_suite_and_its_junit_file() -> None:
    argv = pytest_argv(NFT, ["conformance", "performance"], "r1", Path("/res"), python="py")
    assert argv[:5] == ["py", "-m", "pytest", "suites/conformance", "suites/performance"]
    assert ["--proxy-mode", "nftables"] == argv[argv.index("--proxy-mode"):][:2]
    assert "--junitxml=/res/r1/nftables/junit.xml" in argv and ["-m", "e2e"] == argv[5:7]


def test_progress_lines_say_mode_suites_and_elapsed_time() -> None:
    assert progress(3725.4, "ipvs", ["conformance"], "PASSED") == "[proxylab run 01:02:05 ipvs/conformance] PASSED"
    assert verdict_line([ModeOutcome("iptables", 0, 61), ModeOutcome("nftables", 1, 5)]) == \
        "iptables ok in 00:01:01; nftables FAILED (pytest exit 1) in 00:00:05"


def test_every_e2e_suite_can_be_named_the_default_runs_every_suite_but_operator_and_loadgen() -> None:
    assert parse_suites(None) == ["conformance", "performance", "production", "upstream"]
    assert parse_suites("upstream") == ["upstream"]
    assert parse_suites("operator,loadgen") == ["operator", "loadgen"]


def test_an_existing_cluster_is_passed_to_pytest_with_its_context() -> None:
    from proxylab.runner import Target

    argv = pytest_argv(IPT, ["conformance"], "r1", Path("/res"), python="py", target=Target(Path("/k"), "ctx"))
    assert argv[-4:] == ["--kubeconfig", "/k", "--context", "ctx"]
    assert "--kubeconfig" not in pytest_argv(IPT, ["conformance"], "r1", Path("/res"), python="py")


def test_an_existing_cluster_runs_one_mode() -> None:
    from proxylab.errors import InvalidArgument
    from proxylab.runner import Target, existing_modes

    with pytest.raises(InvalidArgument, match="runs one proxy mode"):
        existing_modes(Target(Path("/nonexistent")), [IPT, NFT])
