"""The mode registry and interface: pure parts, checked without a cluster (proxylab/modes/)."""

from __future__ import annotations

import ast
import configparser
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxylab.constants import CILIUM_AGENT_METRICS_PORT, KUBE_PROXY_METRICS_PORT
from proxylab.kindconfig import render
from proxylab.modes import ProxyMode, all_modes, register
from proxylab.modes.kubeproxy import KubeProxyMode, config_mismatches
from proxylab.versions import load_pins
from suites.conformance.known_differences import reason_for

ROOT = Path(__file__).resolve().parents[2]
NAMES = [m.value for m in all_modes()]


def test_the_registry_holds_the_four_original_modes_first_in_their_order() -> None:
    assert NAMES[:3] == ["iptables", "nftables", "ipvs"] and "ebpf" in NAMES
    assert len(set(NAMES)) == len(NAMES)
    assert all(ProxyMode.parse(n) is m for n, m in zip(NAMES, all_modes(), strict=True))


def test_register_refuses_a_second_mode_of_the_same_name_and_bad_names() -> None:
    iptables = ProxyMode.parse("iptables")
    assert isinstance(iptables, KubeProxyMode)
    with pytest.raises(ValueError, match="registered twice"):
        register(KubeProxyMode("iptables", iptables.proxier, "x", ()))
    for bad in ("IPT", "a,b", " x", ""):
        with pytest.raises(ValueError, match="lowercase"):
            register(KubeProxyMode(bad, iptables.proxier, "x", ()))
    assert [m.value for m in all_modes()] == NAMES  # nothing was added


@pytest.mark.parametrize("mode", all_modes(), ids=str)
def test_each_mode_answers_the_interface_consistently(mode: ProxyMode) -> None:
    settings = mode.kind_settings()
    assert (settings.kube_proxy_mode != "none") is mode.uses_kube_proxy
    spec = mode.observer()
    assert spec.metrics_port == (KUBE_PROXY_METRICS_PORT if mode.uses_kube_proxy else CILIUM_AGENT_METRICS_PORT)
    assert spec.histograms, "the first histogram is the proxy's 'programmed the dataplane' one"
    assert mode.proxy_version(load_pins()).split()[0] in ("kube-proxy", "cilium")
    assert mode.host_requirement and str(mode) == mode.value


@pytest.mark.parametrize("mode", all_modes(), ids=str)
def test_kind_config_carries_the_modes_kube_proxy_settings(mode: ProxyMode) -> None:
    """The KubeProxyConfiguration patch is proxylab's metrics address plus exactly the mode's own
    fields (none for the original four, whose configs render byte-identical to before)."""
    doc = yaml.safe_load(render(f"proxylab-{mode.value}", mode, 2, load_pins()))
    settings = mode.kind_settings()
    assert doc["networking"]["kubeProxyMode"] == settings.kube_proxy_mode
    patch = next(p for p in map(yaml.safe_load, doc["kubeadmConfigPatches"]) if p["kind"] == "KubeProxyConfiguration")
    assert patch == {"kind": "KubeProxyConfiguration", "metricsBindAddress": f"0.0.0.0:{KUBE_PROXY_METRICS_PORT}",
                     **settings.kube_proxy_config}


def test_nested_kube_proxy_settings_render_inside_the_patch() -> None:
    base = ProxyMode.parse("nftables")
    assert isinstance(base, KubeProxyMode)
    mode = KubeProxyMode("nft-test", base.proxier, "x", (), config={"nftables": {"syncPeriod": "5m0s"},
                                                                        "conntrack": {"maxPerCore": 0}})
    doc = yaml.safe_load(render("proxylab-x", mode, 0, load_pins()))
    patch = next(p for p in map(yaml.safe_load, doc["kubeadmConfigPatches"]) if p["kind"] == "KubeProxyConfiguration")
    assert patch["nftables"] == {"syncPeriod": "5m0s"} and patch["conntrack"] == {"maxPerCore": 0}
    assert doc["networking"]["kubeProxyMode"] == "nftables"


# kube-proxy 1.34's /configz serialises its internal type: no json tags, the sync periods top-level.
CONFIGZ: dict[str, Any] = {"kubeproxy.config.k8s.io": {"Mode": "iptables", "SyncPeriod": "30s", "MinSyncPeriod": "1s",
                                                       "IPTables": {"MasqueradeAll": False}}}


def test_config_mismatches_matches_fields_by_name_wherever_configz_puts_them() -> None:
    assert config_mismatches({"iptables": {"minSyncPeriod": "1s"}}, CONFIGZ) == []
    assert config_mismatches({"iptables": {"masqueradeAll": False}}, CONFIGZ) == []
    (problem,) = config_mismatches({"iptables": {"minSyncPeriod": "1ns"}}, CONFIGZ)
    assert "iptables.minSyncPeriod = 1s" in problem and "'1ns'" in problem
    (missing,) = config_mismatches({"nftables": {"noSuchField": 1}}, CONFIGZ)
    assert "nothing" in missing


def test_known_differences_come_from_the_mode() -> None:
    ebpf, iptables = ProxyMode.parse("ebpf"), ProxyMode.parse("iptables")
    assert reason_for(ebpf, "test_service_without_endpoints_is_refused[x]")
    assert reason_for(iptables, "test_service_without_endpoints_is_refused") is None
    assert [m for m in all_modes() if m.known_differences] == [ebpf]


# Outside proxylab/modes/, code asks the mode; it never tests which one it is. Unit tests may.
_SCANNED = ["proxylab", "reports", "loadgen", "operators", "suites/conformance", "suites/performance",
            "suites/loadgen", "suites/operator", "suites/production", "suites/conftest.py", "suites/namespaces.py"]
_IDENTITY = re.compile(r"ProxyMode\.[A-Z]+\b|isinstance\([^)]*(KubeProxyMode|CiliumMode)|\.facts\b")
_ALLOWED_LITERALS = {("suites/conftest.py", "iptables"),  # --proxy-mode's default
                     ("proxylab/perf/dataplane.py", "nftables")}  # the top-level key of `nft -j` output


def _sources() -> list[Path]:
    out: list[Path] = []
    for entry in _SCANNED:
        path = ROOT / entry
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [p for p in out if "proxylab/modes/" not in p.as_posix()]


def test_no_module_outside_the_mode_package_tests_which_mode_it_is() -> None:
    names = set(NAMES)
    found = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        found += [f"{rel}: {m.group(0)}" for m in _IDENTITY.finditer(text)]
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and node.value in names and (rel, node.value) not in _ALLOWED_LITERALS:
                found.append(f"{rel}:{node.lineno}: the mode name {node.value!r} as a literal")
    assert not found, "ask the mode (proxylab/modes/) instead:\n" + "\n".join(found)


def test_every_registered_mode_has_its_tox_env() -> None:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    (section,) = [s for s in ini.sections() if "--proxy-mode {envname}" in ini[s].get("commands", "")]
    listed = re.fullmatch(r"testenv:\{(.*)\}", section)
    assert listed, section
    envs = listed.group(1).split(",")
    assert sorted(envs) == sorted(NAMES), f"tox.ini: make it [testenv:{{{','.join(NAMES)}}}] (any order)"
    assert ini["testenv:nightly"]["commands"].strip() == "proxylab run {posargs}", "nightly runs the default modes"


def test_the_nightly_matrix_is_every_registered_mode() -> None:
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
    matrix = doc["jobs"]["mode"]["strategy"]["matrix"]["mode"]
    assert sorted(matrix) == sorted(NAMES), f".github/workflows/nightly.yml: make the matrix mode: [{', '.join(NAMES)}]"


def test_a_mode_survives_copy_pickle_and_the_cluster_record_round_trip(tmp_path: Path) -> None:
    import copy
    import dataclasses
    import pickle

    from proxylab.cluster import ClusterInfo

    for mode in all_modes():
        assert copy.copy(mode) is mode and copy.deepcopy(mode) is mode and pickle.loads(pickle.dumps(mode)) is mode  # noqa: S301 (our own bytes)
        info = ClusterInfo("proxylab-x", mode, tmp_path / "kubeconfig", ["n1"], 1.0, 2.0)
        assert dataclasses.asdict(info)["mode"] is mode
        assert ClusterInfo.from_json(json.loads(json.dumps(info.to_json()))) == info
