"""The CLI on this real host: bad input gets a clear error, fast, and nothing is created.

No mocks: these run the installed `proxylab` against the machine itself, but never create a
cluster, so they belong with the quick tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from proxylab.modes import ProxyMode, all_modes


def proxylab(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxylab", *args], capture_output=True, text=True, timeout=timeout)


def test_unknown_mode_is_refused_with_the_valid_ones() -> None:
    res = proxylab("cluster", "up", "--mode", "userspace")
    assert res.returncode != 0
    assert ", ".join(m.value for m in all_modes()) in res.stderr


def test_ipvs_without_kernel_support_fails_fast_before_creating_anything() -> None:
    ok, _ = ProxyMode.parse("ipvs").host_support()
    if ok:
        pytest.skip("this host has IPVS; the refusal path cannot be exercised here")
    t0 = time.monotonic()
    res = proxylab("cluster", "up", "--mode", "ipvs", "--name", "should-never-exist")
    seconds = time.monotonic() - t0
    assert res.returncode == 2, res.stderr
    assert "CONFIG_IP_VS" in res.stderr or "ip_vs" in res.stderr, res.stderr
    assert seconds < 5, f"refusal took {seconds:.1f}s"
    listed = proxylab("cluster", "list")
    assert "should-never-exist" not in listed.stdout


def test_doctor_json_reports_every_check() -> None:
    res = proxylab("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(res.stdout)}
    for name in ("docker engine", "privileged containers", "cgroups", "registry", "go toolchain",
                 "containment guard", *(f"mode {m.value}" for m in all_modes())):
        assert name in checks, f"doctor lacks the {name!r} line"
    assert all(c["status"] in ("OK", "MISSING", "UNSUPPORTED", "INFO") for c in checks.values())
    failed = [c for c in checks.values() if c["failed"]]
    assert (res.returncode != 0) == bool(failed), "doctor's exit code must reflect required checks"


def test_cluster_down_of_an_unknown_name_says_so() -> None:
    res = proxylab("cluster", "down", "proxylab-no-such-cluster")
    assert res.returncode == 2
    assert "no kind cluster named" in res.stderr
