"""The load run's pods are least-privilege and bounded."""

from __future__ import annotations

from loadgen import LoadSpec, pods


def test_pods_are_restricted_and_bounded() -> None:
    spec = LoadSpec(targets=("echo:80",), workers=2, duration_s=20, node="w1")
    master = pods.master_pod("abc", "proxylab/locust:x", spec)
    worker = pods.worker_pod("abc", 1, "proxylab/locust:x", spec, "10.244.1.9")
    for pod in (master, worker):
        ps = pod["spec"]
        c = ps["containers"][0]
        assert ps["restartPolicy"] == "Never"
        assert ps["activeDeadlineSeconds"] == 20 + pods.DEADLINE_MARGIN_S
        assert ps["automountServiceAccountToken"] is False
        # Pinned by the Node object's name, not by a hostname label that may differ from it.
        assert ps["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["w1"]}]}]}}}
        assert "nodeSelector" not in ps
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert "cpu" not in c["resources"]["limits"]
    args = worker["spec"]["containers"][0]["args"]
    assert args[args.index("--master-host") + 1] == "10.244.1.9"  # pod IP: control traffic bypasses the proxy


def test_spread_workers_take_one_node_each_and_only_the_master_is_pinned() -> None:
    spec = LoadSpec(targets=("echo:80",), workers=2, node="w1", spread=True)
    master = pods.master_pod("abc", "proxylab/locust:x", spec)
    worker = pods.worker_pod("abc", 0, "proxylab/locust:x", spec, "10.244.1.9")
    assert master["spec"]["affinity"]["nodeAffinity"]
    anti = worker["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti == [{"topologyKey": "kubernetes.io/hostname",
                     "labelSelector": {"matchLabels": {pods.RUN_LABEL: "abc", pods.ROLE_LABEL: "worker"}}}]
    # The selector matches the worker's own labels, so two workers of the run never share a node.
    assert anti[0]["labelSelector"]["matchLabels"].items() <= worker["metadata"]["labels"].items()
    assert "nodeAffinity" not in worker["spec"]["affinity"]


def test_configmap_ships_the_agent() -> None:
    cm = pods.configmap("abc")
    assert set(cm["data"]) == {"locustfile.py", "lgstats.py"}
    assert "report_to_master" in cm["data"]["locustfile.py"]


def test_run_passes_load_workers_to_pytest_only_when_more_than_one() -> None:
    from pathlib import Path

    from proxylab.modes import ProxyMode
    from proxylab.runner import pytest_argv

    mode = ProxyMode.parse("nftables")
    assert "--load-workers" not in pytest_argv(mode, ["performance"], "r1", Path("/r"))
    two = pytest_argv(mode, ["performance"], "r1", Path("/r"), load_workers=2)
    assert two[two.index("--load-workers") + 1] == "2"
