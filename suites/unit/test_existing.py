"""Existing clusters: mode detection, ranges and the guard's coverage, run labels, cleanup's
selection, and the one-line access errors (pure logic; the kubeconfig tests talk to a real closed
port and read real files, no API server is mocked)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client
from kubernetes.config.config_exception import ConfigException

from proxylab import access, cleanup, runlabels
from proxylab.access import ClusterAccessError, Permission
from proxylab.cleanup import Obj
from proxylab.existing import check_mode, ranges_from, uncovered
from proxylab.modes import ProxyMode
from proxylab.modes.detect import UNKNOWN, decide_mode

REPO = Path(__file__).resolve().parents[2]


def _ds(*argv: str) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "kube-proxy", "command": list(argv)}]}}}}


KUBE_PROXY_DS = _ds("/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf")


@pytest.mark.parametrize(("conf", "ds", "cilium", "want"), [
    ("mode: iptables\n", KUBE_PROXY_DS, None, "iptables"),
    ("mode: nftables\n", KUBE_PROXY_DS, None, "nftables"),
    ("mode: ipvs\n", KUBE_PROXY_DS, None, "ipvs"),
    ('mode: ""\n', KUBE_PROXY_DS, None, "iptables"),  # kube-proxy's Linux default
    ("clusterCIDR: 10.244.0.0/16\n", KUBE_PROXY_DS, None, "iptables"),  # no mode key at all: the default too
    ("mode: iptables\n", _ds("kube-proxy", "--proxy-mode=ipvs"), None, "ipvs"),  # the flag overrides the file
    ("mode: iptables\n", _ds("kube-proxy", "--proxy-mode", "nftables"), None, "nftables"),
    (None, None, {"kube-proxy-replacement": "true"}, "ebpf"),
    (None, None, {"kube-proxy-replacement": "strict"}, "ebpf"),
    ("mode: iptables\n", KUBE_PROXY_DS, {"kube-proxy-replacement": "false"}, "iptables"),  # Cilium as CNI only
    ("mode: iptables\n", None, None, UNKNOWN),  # a ConfigMap left behind, nothing runs it
    (None, KUBE_PROXY_DS, None, UNKNOWN),  # no ConfigMap, no flag
    ("mode: kernelspace\n", KUBE_PROXY_DS, None, UNKNOWN),  # Windows' proxier
    (None, None, None, UNKNOWN),
])
def test_proxy_mode_is_decided_from_the_clusters_configuration(
        conf: str | None, ds: dict[str, Any] | None, cilium: dict[str, str] | None, want: str) -> None:
    found = decide_mode(conf, ds, cilium)
    assert found.mode == want
    assert found.evidence, "a detection always says why"


def test_unknown_mode_names_the_evidence() -> None:
    found = decide_mode(None, None, None)
    assert "no kube-proxy DaemonSet" in "; ".join(found.evidence)


def test_detected_mode_is_used_when_none_is_given() -> None:
    assert check_mode(None, decide_mode("mode: nftables\n", KUBE_PROXY_DS, None)) is ProxyMode.parse("nftables")


def test_given_mode_that_disagrees_with_the_cluster_is_refused() -> None:
    with pytest.raises(ClusterAccessError, match=r"--proxy-mode ipvs disagrees with the cluster, which runs iptables"):
        check_mode(ProxyMode.parse("ipvs"), decide_mode("mode: iptables\n", KUBE_PROXY_DS, None))


def test_given_mode_is_used_when_nothing_is_detected_and_required_otherwise() -> None:
    unknown = decide_mode(None, None, None)
    assert check_mode(ProxyMode.parse("ipvs"), unknown) is ProxyMode.parse("ipvs")
    with pytest.raises(ClusterAccessError, match="pass --proxy-mode"):
        check_mode(None, unknown)


KUBEADM = "networking:\n  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/16\n"


def test_ranges_come_from_every_source_without_duplicates() -> None:
    r = ranges_from(KUBEADM, ["10.244.1.0/24", "10.244.2.0/24"], "clusterCIDR: 10.244.0.0/16\n", ["10.96.0.0/16"])
    assert r.service == ["10.96.0.0/16"]
    assert r.pod == ["10.244.0.0/16", "10.244.1.0/24", "10.244.2.0/24"]
    assert any("kubeadm-config" in s for s in r.sources)


def test_dual_stack_ranges_are_split() -> None:
    r = ranges_from("networking:\n  serviceSubnet: 10.96.0.0/16,fd00:10:96::/112\n", [], None, [])
    assert r.service == ["10.96.0.0/16", "fd00:10:96::/112"]


def test_a_range_is_covered_by_a_route_that_contains_it() -> None:
    routes = ["10.96.0.0/12", "10.244.0.0/16", "2001:db8::/32"]
    assert uncovered(["10.96.0.0/16", "10.244.3.0/24"], routes) == []
    assert uncovered(["10.112.0.0/12", "192.168.0.0/16", "fd00:10:96::/112"], routes) == [
        "10.112.0.0/12", "192.168.0.0/16", "fd00:10:96::/112"]


def test_run_label_value_is_the_run_id_or_a_stable_digest() -> None:
    assert runlabels.label_value("20261201T012345Z") == "20261201T012345Z"
    long = "r" * 100
    assert runlabels.label_value(long) == runlabels.label_value(long) != long
    assert len(runlabels.label_value(long)) <= 63
    assert runlabels.label_value("ends-with-dash-") .startswith("h-")


def test_run_labels_select_proxylabs_objects_only() -> None:
    assert runlabels.selector(None) == "proxylab.io/run-id"
    assert runlabels.selector("r1") == "proxylab.io/run-id=r1"
    assert runlabels.matches({"proxylab.io/run-id": "r1"}, None)
    assert runlabels.matches({"proxylab.io/run-id": "r1"}, "r1")
    assert not runlabels.matches({"proxylab.io/run-id": "r2"}, "r1")
    assert not runlabels.matches({"app": "x"}, None)
    assert not runlabels.matches(None, None)


def test_manifests_carry_the_sessions_run_label(monkeypatch: pytest.MonkeyPatch) -> None:
    from operators.fixture import deploy
    from proxylab import manifests

    monkeypatch.setenv(runlabels.RUN_ID_ENV, "r7")
    assert manifests.namespace("x")["metadata"]["labels"][runlabels.RUN_ID_LABEL] == "r7"
    docs = deploy.manifests("op:1", "echo:1")
    assert {d["kind"] for d in docs} >= {"CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding"}
    assert all(d["metadata"]["labels"][runlabels.RUN_ID_LABEL] == "r7" for d in docs)


def _o(kind: str, name: str, ns: str | None = None, run: str | None = "r1") -> Obj:
    return Obj(kind, name, ns, {runlabels.RUN_ID_LABEL: run} if run else {"app": "theirs"})


OPERATOR = [_o("OperatorNamespace", "proxylab-system"), _o("ClusterRole", "proxylab-fixture-operator"),
            _o("ClusterRoleBinding", "proxylab-fixture-operator"),
            _o("CustomResourceDefinition", "servicefixtures.proxylab.dev")]


def test_cleanup_deletes_only_labelled_objects_in_a_safe_order() -> None:
    fixture = _o("ServiceFixture", "fx", "t-1")
    found = [*OPERATOR, _o("Namespace", "t-1"), fixture, _o("Pod", "lg-master", "t-1"), _o("Pod", "lg", "user-ns"),
             _o("Namespace", "theirs", run=None), _o("Pod", "theirs", "default", run=None)]
    plan = cleanup.plan(found, None, [fixture])
    assert [str(o) for o in plan.delete] == [
        "ServiceFixture t-1/fx", "Pod user-ns/lg", "Namespace t-1", "Namespace proxylab-system",
        "ClusterRoleBinding proxylab-fixture-operator", "ClusterRole proxylab-fixture-operator",
        "CustomResourceDefinition servicefixtures.proxylab.dev"]
    assert plan.kept == []


def test_cleanup_of_one_run_keeps_other_runs_and_the_shared_operator_they_use() -> None:
    mine, theirs = _o("ServiceFixture", "a", "t-1"), _o("ServiceFixture", "b", "t-2", run="r2")
    found = [*OPERATOR, _o("Namespace", "t-1"), _o("Namespace", "t-2", run="r2"), mine, theirs]
    plan = cleanup.plan(found, "r1", [mine, theirs])
    assert [str(o) for o in plan.delete] == ["ServiceFixture t-1/a", "Namespace t-1"]
    assert {str(o) for o, _ in plan.kept} == {str(o) for o in OPERATOR}
    assert all("t-2/b" in why for _, why in plan.kept)


def test_cleanup_keeps_the_operator_while_unlabelled_fixtures_use_it() -> None:
    plan = cleanup.plan(OPERATOR, None, [_o("ServiceFixture", "old", "legacy", run=None)])
    assert plan.delete == [] and len(plan.kept) == 4


def _api_exception(status: int, body: str = "") -> client.ApiException:
    exc = client.ApiException(status=status, reason="x")
    exc.body = body
    return exc


FORBIDDEN = ('{"kind":"Status","message":"customresourcedefinitions.apiextensions.k8s.io is forbidden: User '
             '\\"alice\\" cannot create resource \\"customresourcedefinitions\\" in API group '
             '\\"apiextensions.k8s.io\\" at the cluster scope","reason":"Forbidden","code":403}')


def test_forbidden_names_the_user_and_the_rule_to_grant() -> None:
    line = access.explain(_api_exception(403, FORBIDDEN), "installing the operator")  # the API's Status JSON
    assert line is not None and "\n" not in line
    assert "RBAC forbids user 'alice' to create customresourcedefinitions at cluster scope" in line
    assert '{apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["create"]}' in line


def test_forbidden_in_a_namespace_is_said_so() -> None:
    body = 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "kube-system"'
    found = access.forbidden_permission(body)
    assert found == ("bob", Permission("list", "pods", "", True), "kube-system")


def test_rejected_credential_unreachable_server_and_bad_kubeconfig_are_one_line_each() -> None:
    expired = access.explain(_api_exception(401), "connecting")
    assert expired is not None and "credential" in expired and "expired" in expired
    refused = urllib3.exceptions.MaxRetryError(None, "/version", urllib3.exceptions.NewConnectionError(  # type: ignore[arg-type]
        None, "Failed to establish a new connection: [Errno 111] Connection refused"))  # type: ignore[arg-type]
    unreachable = access.explain(refused, "connecting")
    assert unreachable is not None and "unreachable (Connection refused)" in unreachable
    bad = access.explain(ConfigException("Invalid kube-config file. Expected key users"), "connecting")
    assert bad is not None and "kubeconfig cannot be used" in bad
    assert access.explain(_api_exception(500), "x") is None  # not an access problem: not hidden
    assert access.explain(ValueError("bug"), "x") is None


def test_explained_turns_access_errors_into_cluster_access_errors_and_lets_bugs_through() -> None:
    with pytest.raises(ClusterAccessError, match="credential"), access.explained("step"):
        raise _api_exception(401)
    with pytest.raises(KeyError), access.explained("step"):
        raise KeyError("a bug")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kubeconfig(tmp_path: Path, server: str, ctx: str = "c1") -> Path:
    (tmp_path / "ca.crt").write_text("not a real CA")
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": ctx,
           "clusters": [{"name": "k", "cluster": {"server": server, "insecure-skip-tls-verify": True}},
                        {"name": "other", "cluster": {"server": "https://192.0.2.1", "certificate-authority": "ca.crt"}}],
           "users": [{"name": "u", "user": {"token": "t"}}, {"name": "u2", "user": {"token": "t2"}}],
           "contexts": [{"name": ctx, "context": {"cluster": "k", "user": "u"}},
                        {"name": "c2", "context": {"cluster": "other", "user": "u2"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_closed_port_is_reported_unreachable(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, f"https://127.0.0.1:{_free_port()}")
    with pytest.raises(ClusterAccessError, match=r"is unreachable \(Connection refused\)"):
        access.connect(path)


def test_a_context_that_does_not_exist_lists_those_that_do(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, "https://127.0.0.1:1")
    with pytest.raises(ClusterAccessError, match=r"context 'nope' does not exist in .*; its contexts: c1, c2"):
        access.connect(path, "nope")


def test_a_missing_kubeconfig_says_so(tmp_path: Path) -> None:
    with pytest.raises(ClusterAccessError, match="cannot be read"):
        access.connect(tmp_path / "absent")


def test_minified_kubeconfig_keeps_one_context_with_absolute_paths(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, "https://127.0.0.1:1")
    doc = access.minified(path, "c2")
    assert doc["current-context"] == "c2"
    assert [c["name"] for c in doc["clusters"]] == ["other"] and [u["name"] for u in doc["users"]] == ["u2"]
    assert doc["clusters"][0]["cluster"]["certificate-authority"] == str(tmp_path.resolve() / "ca.crt")


def _cli(*argv: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(REPO), "PROXYLAB_STATE": str(tmp_path / "state")}
    return subprocess.run([sys.executable, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_cleanup_against_a_closed_port_fails_in_one_line(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, f"https://127.0.0.1:{_free_port()}")
    res = _cli("-m", "proxylab", "cleanup", "--kubeconfig", str(path), tmp_path=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "unreachable" in res.stderr


def test_pytest_session_with_a_bad_context_is_a_usage_error_in_one_line(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, "https://127.0.0.1:1")
    res = _cli("-m", "pytest", "suites/conformance/test_smoke.py", "--collect-only", "-q", "-p", "no:cacheprovider",
               "--kubeconfig", str(path), "--context", "nope", "--results-dir", str(tmp_path / "r"), tmp_path=tmp_path)
    assert res.returncode == 4, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert "Traceback" not in out and "context 'nope' does not exist" in out
    assert not (tmp_path / "r").exists(), "nothing is written for a session that never started"


def test_guard_refuses_a_cluster_whose_range_it_cannot_read() -> None:
    from proxylab.errors import ContainmentError
    from proxylab.existing import ClusterRanges, ensure_guard

    with pytest.raises(ContainmentError, match="could not read the cluster's service range"):
        ensure_guard(ClusterRanges(service=[], pod=["10.244.0.0/16"], sources=["node podCIDRs"]))


def test_guard_refuses_a_range_that_overlaps_the_hosts_own_network() -> None:
    """Read-only on the host: the refusal comes before any route is added."""
    from proxylab.errors import ContainmentError
    from proxylab.existing import ClusterRanges, _host_networks, ensure_guard

    own = next((n for n in _host_networks() if ":" not in n and not n.startswith("127.")), None)
    if own is None:
        pytest.skip("this host has no IPv4 network besides loopback")
    with pytest.raises(ContainmentError, match="overlap this host's own networks"):
        ensure_guard(ClusterRanges(service=["10.96.0.0/12"], pod=[own], sources=["test"]))


def test_the_guard_of_an_existing_cluster_covers_what_the_suites_target_on_purpose() -> None:
    """A plain kind cluster's service range is 10.96.0.0/16; the containment tests connect to
    10.111.222.233 (in proxylab's 10.96.0.0/12) and the upstream specs to 203.0.113.250 and 10.0.0.24.
    Guarding only the cluster's own ranges let those connections leave the host (seen 2026-12-01)."""
    from proxylab.existing import ClusterRanges, guarded_ranges, uncovered

    ranges = ClusterRanges(service=["10.96.0.0/16"], pod=["10.244.0.0/16"], sources=["test"])
    targets = ["10.111.222.233/32", "10.244.250.250/32", "203.0.113.250/32", "10.0.0.24/32", "2001:db8::cb00:71fa/128"]
    assert uncovered(targets, guarded_ranges(ranges)) == []
    assert uncovered(["10.96.0.0/16", "10.244.0.0/16"], guarded_ranges(ranges)) == []


def test_workers_leave_out_only_kinds_control_plane(tmp_path: Path) -> None:
    from proxylab.cluster import ClusterInfo
    from proxylab.modes import ProxyMode
    kind = ClusterInfo("c", ProxyMode.parse("iptables"), tmp_path, ["c-control-plane", "c-worker", "c-worker2"], 0.0, 0.0)
    assert kind.workers == ["c-worker", "c-worker2"]
    # a remote cluster's nodes are already the schedulable ones, whatever their names say
    remote = ClusterInfo("r", ProxyMode.parse("iptables"), tmp_path, ["control-plane-pool-a", "b"], 0.0, 0.0,
                         provider="existing", docker_network=None)
    assert remote.workers == ["control-plane-pool-a", "b"]
