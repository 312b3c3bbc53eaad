"""Pure logic of node access (proxylab/nodes/): the agent's manifests, its expiry, and the choice
of how a session reaches nodes. The agent itself is exercised on a real cluster by every e2e
test that asks for the ``node_access`` fixture."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from proxylab import nodes, runlabels
from proxylab.errors import CommandFailed
from proxylab.nodes import NodeResult, agent
from proxylab.nodes.session import choose


def test_expiry_is_ttl_after_now_and_bounded() -> None:
    assert agent.expiry(1000.4, 7200) == 8200
    for bad in (0, -1, agent.MAX_TTL_S + 1):
        with pytest.raises(ValueError, match="TTL"):
            agent.expiry(0, bad)


def test_remaining_is_never_negative() -> None:
    assert agent.remaining_s(100, 40) == 60
    assert agent.remaining_s(100, 100) == 0
    assert agent.remaining_s(100, 500) == 0


@pytest.mark.parametrize("run_id", ["20261201T012345Z", "-a b/c-", "x" * 100, "run." + "y" * 59 + "-_"])
def test_the_agent_carries_the_run_label_cleanup_selects(run_id: str) -> None:
    for obj in agent.manifests("img", run_id, 1_800_000_000):
        labels = obj["metadata"]["labels"]
        assert labels[runlabels.RUN_ID_LABEL] == runlabels.label_value(run_id)
        assert runlabels.matches(labels, run_id)


def test_manifests_label_and_expire() -> None:
    ns, ds = agent.manifests("img", "run-1", 1_800_000_000)
    for obj in (ns, ds):
        meta = obj["metadata"]
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "proxylab"
        assert meta["labels"][runlabels.RUN_ID_LABEL] == "run-1"
        assert meta["annotations"][agent.EXPIRES_ANNOTATION] == "1800000000"
    assert ns["metadata"]["name"] == ds["metadata"]["namespace"] == agent.NAMESPACE
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    container = ds["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "EXPIRES_AT", "value": "1800000000"} in container["env"]
    assert container["command"][-1] == agent.SLEEP_UNTIL_EXPIRY


def test_manifests_reach_every_node_privileged() -> None:
    _, ds = agent.manifests("img", "r", 1)
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    assert pod["hostNetwork"] and pod["hostPID"] and not pod["automountServiceAccountToken"]
    assert {"operator": "Exists"} in pod["tolerations"]  # control-plane (and any other) taints
    assert pod["containers"][0]["securityContext"]["privileged"] is True
    assert pod["containers"][0]["securityContext"]["runAsUser"] == 0
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()


def test_sleep_program_exits_once_expired() -> None:
    """The container's shell program itself, run here: past the expiry it exits at once."""
    import subprocess

    done = subprocess.run(["sh", "-c", agent.SLEEP_UNTIL_EXPIRY], env={"EXPIRES_AT": "1", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=10, check=False)
    assert done.returncode == 0 and "expired" in done.stdout
    running = subprocess.Popen(["sh", "-c", agent.SLEEP_UNTIL_EXPIRY],
                               env={"EXPIRES_AT": str(2**31), "PATH": "/usr/bin:/bin"})
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            running.wait(timeout=1)
    finally:
        running.kill()
        running.wait()


def test_nsenter_enters_the_nodes_namespaces() -> None:
    argv = agent.nsenter_argv(["iptables-save", "-t", "nat"])
    assert argv[:3] == ["nsenter", "-t", "1"] and argv[-3:] == ["iptables-save", "-t", "nat"]
    assert f"PATH={agent.NODE_PATH}" in argv  # the node's tools, not the image's PATH
    assert {"-m", "-n", "-p"} <= set(argv[:argv.index("--")])


def test_agent_refuses_after_expiry() -> None:
    access = agent.AgentNodeAccess(api=None, expires_at=1)  # the API is never reached
    res = access.call("node-a", ["true"])
    assert res.returncode != 0 and "expired" in res.stderr


@pytest.mark.parametrize(("requested", "ours", "allow", "via"), [
    ("agent", True, False, "agent"),  # proxylab's own cluster: the agent is always allowed
    ("agent", False, True, "agent"),
    ("docker", True, False, "docker"),
    ("agent", False, False, None),
    ("docker", False, True, None),
])
def test_choice(requested: str, ours: bool, allow: bool, via: str | None) -> None:
    choice = choose(requested, ours=ours, allow_agent=allow)
    assert choice.via == via
    assert (choice.skip is None) == (via is not None)
    if requested == "agent" and via is None:
        assert choice.skip is not None and "--allow-node-agent" in choice.skip


def test_unknown_choice() -> None:
    with pytest.raises(ValueError, match="--node-access"):
        choose("ssh", ours=True, allow_agent=False)


class _Fixed:
    name = "fixed"

    def __init__(self, result: NodeResult) -> None:
        self.result = result

    def call(self, node: str, argv: Sequence[str], timeout: float = 30) -> NodeResult:
        return self.result

    def run(self, node: str, argv: Sequence[str], timeout: float = 30) -> str:
        return nodes.checked(self, node, argv, timeout)


def test_run_raises_with_the_node_and_stderr() -> None:
    assert _Fixed(NodeResult(0, "out", "")).run("n1", ["x"]) == "out"
    with pytest.raises(CommandFailed, match=r"(?s)boom.*n1.*fixed"):
        _Fixed(NodeResult(2, "", "boom")).run("n1", ["x"])


def test_use_sets_and_restores_the_current_access() -> None:
    assert nodes.current() is nodes.DOCKER
    other = _Fixed(NodeResult(0, "", ""))
    with nodes.use(other):
        assert nodes.current() is other
    assert nodes.current() is nodes.DOCKER
    assert isinstance(other, nodes.NodeAccess)


def test_readme_rbac_lists_what_the_agent_uses() -> None:
    """docs/rbac.yaml's proxylab-node-agent ClusterRole is exactly what the agent's code needs."""
    from pathlib import Path

    import yaml

    docs = list(yaml.safe_load_all((Path(__file__).parents[2] / "docs" / "rbac.yaml").read_text()))
    role = next(d for d in docs if d["metadata"]["name"] == "proxylab-node-agent")
    assert role["rules"] == agent.AGENT_RBAC


class _Canned:
    """Answers each command from a table (argv joined by blanks -> stdout), recording what was asked."""

    name = "canned"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str]] = []

    def call(self, node: str, argv: Sequence[str], timeout: float = 30) -> NodeResult:
        key = " ".join(argv)
        self.asked.append((node, key))
        return NodeResult(0, self.answers[key], "") if key in self.answers else NodeResult(1, "", "no such thing")

    def run(self, node: str, argv: Sequence[str], timeout: float = 30) -> str:
        return nodes.checked(self, node, argv, timeout)


def test_kube_proxy_mode_reads_nodes_through_the_current_access() -> None:
    """The modes ask :func:`proxylab.nodes.current`, so the session's node agent serves them."""
    from proxylab.modes import ProxyMode
    from proxylab.modes.kubeproxy import proxy_mode_of

    canned = _Canned({"sh -c iptables-save -t nat | grep -c '^-A KUBE-SERVICES'": "5\n",
                      "curl -s --max-time 5 http://127.0.0.1:10249/proxyMode": "iptables"})
    with nodes.use(canned):
        assert ProxyMode.parse("iptables").rules_present("n1") == (True, "5 KUBE-SERVICES rules in the nat table")
        assert proxy_mode_of("n2") == "iptables"
        assert ProxyMode.parse("nftables").rules_present("n1")[0] is False  # its nft command failed
    assert [node for node, _ in canned.asked] == ["n1", "n2", "n1"]
