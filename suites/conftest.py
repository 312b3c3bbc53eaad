"""pytest plumbing shared by every suite: options, the session cluster, results.json.

Options: --proxy-mode, --keep-cluster, --reuse-cluster, --cluster-name, --results-dir, --run-id, --workers,
--upstream-set, --image-registry, --kubeconfig/--context (an existing cluster, used as it is: proxylab/existing.py).
Tests marked ``e2e`` are recorded in ``<results-dir>/<run-id>/<mode>/results.json`` as they
finish; a test asks for measured values to be recorded through the ``metrics`` fixture.
"""

from __future__ import annotations

import os
import signal

# testcontainers' reaper (Ryuk) is an image pulled from a registry, which such hosts never reach;
# proxylab labels its helper containers and removes them itself (cluster down). Set before any
# test module imports testcontainers, which reads this at import time.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from proxylab import access, runlabels
from proxylab import cluster as cluster_mod
from proxylab import docker as docker_mod
from proxylab import existing as existing_mod
from proxylab.cluster import ClusterInfo
from proxylab.errors import InvalidArgument, ProxylabError, UnsupportedMode
from proxylab.images.build import last_strategy
from proxylab.images.catalog import IMAGE_REGISTRY_ENV, cluster_catalog, normalise_registry
from proxylab.modes import ProxyMode, all_modes
from proxylab.nodes import NodeAccess
from proxylab.results import (
    EXPECTED_FAILURE,
    ClusterDoc,
    ResultsWriter,
    RunMetadata,
    TestRecord,
    git_commit,
    host_facts,
    image_source,
    metric_ids_for,
    new_run_id,
    validate_run_id,
)
from proxylab.versions import load_pins
from suites.namespaces import namespace  # noqa: F401 - the per-module namespace fixture of the e2e suites
from suites.terminal import uncaptured

METRICS = pytest.StashKey[dict[str, Any]]()
SESSION = pytest.StashKey[dict[str, Any]]()
ITEM_STATE = pytest.StashKey[dict[str, Any]]()
WRITER = pytest.StashKey[ResultsWriter]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("proxylab")
    g.addoption("--proxy-mode", default=os.environ.get("PROXYLAB_MODE"),
                help="proxy mode of the session cluster: " + ", ".join(m.value for m in all_modes())
                + " (default iptables; with --kubeconfig the mode detected in that cluster)")
    g.addoption("--kubeconfig", default=None, metavar="PATH",
                help="run against the existing cluster of this kubeconfig: nothing is created or deleted but "
                     "the harness's own, labelled objects (`proxylab cleanup` removes them)")
    g.addoption("--context", default=None, metavar="NAME", help="the kubeconfig's context to use (default: current)")
    g.addoption("--keep-cluster", action="store_true", help="do not delete the cluster at the end")
    g.addoption("--reuse-cluster", default=None, metavar="NAME", help="run against an existing proxylab cluster")
    g.addoption("--cluster-name", default=None, metavar="NAME",
                help="name of the session's new cluster (default proxylab-<mode>)")
    g.addoption("--results-dir", default="results", help="where results/<run-id>/<mode>/results.json goes")
    g.addoption("--run-id", default=os.environ.get("PROXYLAB_RUN_ID") or new_run_id(),
                help="groups the modes of one run (default: UTC timestamp)")
    g.addoption("--workers", type=int, default=2, help="worker nodes of the session cluster")
    g.addoption("--upstream-set", choices=("all", "ci"), default=os.environ.get("PROXYLAB_UPSTREAM_SET", "all"),
                help="suites/upstream: every [sig-network] Services spec of the pinned version (all), or "
                     "the fixed subset of the README's test command (ci)")
    g.addoption("--image-registry", default=os.environ.get(IMAGE_REGISTRY_ENV, ""), metavar="REGISTRY",
                help="push proxylab's own images to REGISTRY (host[:port][/path]) and pull them from there "
                     "(default: kind loads them into the nodes)")
    g.addoption("--allow-node-agent", action="store_true",
                default=os.environ.get("PROXYLAB_ALLOW_NODE_AGENT", "") not in ("", "0"),
                help="allow proxylab's privileged, time-limited node agent on a cluster it did not create "
                     "(always allowed on its own kind clusters); without it, tests that read nodes are skipped "
                     "(env PROXYLAB_ALLOW_NODE_AGENT=1 does the same, e.g. for `proxylab run`)")
    g.addoption("--node-access", choices=("agent", "docker"), default="agent",
                help="how tests reach nodes: the node agent through the Kubernetes API (default), or "
                     "`docker exec` (kind clusters proxylab created only)")
    g.addoption("--node-agent-ttl", type=float, default=2 * 3600, metavar="SECONDS",
                help="the node agent stops by itself this long after it is installed (default 2 h)")


def _failure_text(report: pytest.TestReport) -> str:
    """Where and why a test failed, for results.json: the exception's own message (pytest's crash
    line), not just the last line of the traceback, which names the exception type only."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return f"{crash.path}:{crash.lineno}: {crash.message}"[:1500]
    return (report.longreprtext.strip().splitlines() or [""])[-1][:1500]


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so fixtures tear the cluster down, as on Ctrl-C


def pytest_configure(config: pytest.Config) -> None:
    try:
        run_id = validate_run_id(config.getoption("--run-id"))
        os.environ[runlabels.RUN_ID_ENV] = run_id  # every object the session creates carries it
        if config.getoption("--kubeconfig") and config.getoption("--reuse-cluster"):
            raise InvalidArgument("--kubeconfig and --reuse-cluster name two clusters; give one")
        mode, found = existing_mod.configure_session(config.getoption("--kubeconfig"), config.getoption("--context"),
                                                     config.getoption("--proxy-mode"), run_id)
        # Every manifest the suites render takes proxylab's image references from cluster_catalog().
        os.environ[IMAGE_REGISTRY_ENV] = normalise_registry(config.getoption("--image-registry"))
    except ProxylabError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION] = {"mode": mode, "existing": found}
    signal.signal(signal.SIGTERM, _sigterm)


def _writer(config: pytest.Config) -> ResultsWriter:
    if WRITER not in config.stash:
        mode: ProxyMode = config.stash[SESSION]["mode"]
        run_id = config.getoption("--run-id")
        path = Path(config.getoption("--results-dir")) / run_id / mode.value / "results.json"
        versions = load_pins().as_dict() | {"proxy": mode.proxy_version(load_pins())}
        meta = RunMetadata(run_id=run_id, mode=mode.value, versions=versions, images=image_source(last_strategy()),
                           host=host_facts(), git_commit=git_commit(Path(__file__).parent))
        config.stash[WRITER] = ResultsWriter(path, meta)
        if config.stash[WRITER].interrupted is not None:
            print(f"proxylab results: an interrupted session's results were kept as {config.stash[WRITER].interrupted}",
                  flush=True)
    return config.stash[WRITER]


@pytest.fixture(scope="session")
def proxy_mode(pytestconfig: pytest.Config) -> ProxyMode:
    mode: ProxyMode = pytestconfig.stash[SESSION]["mode"]
    return mode


def _push_images() -> float | None:
    """--image-registry: push proxylab's own images there; seconds taken (None without the option)."""
    if not cluster_catalog().registry:
        return None
    from proxylab import registry

    return round(sum(p.seconds for p in registry.push(cluster_catalog())), 1)


@pytest.fixture(scope="session")
def cluster(pytestconfig: pytest.Config, proxy_mode: ProxyMode) -> Iterator[ClusterInfo]:
    """The session's real kind cluster for --proxy-mode (skipped with the reason if unsupported)."""
    writer = _writer(pytestconfig)
    found: existing_mod.Existing | None = pytestconfig.stash[SESSION]["existing"]
    if found is not None:
        try:
            yield _existing_cluster(pytestconfig, writer, found)
        finally:
            existing_mod.forget(found)  # the session's copy of the credential
        return
    reuse = pytestconfig.getoption("--reuse-cluster")
    try:
        cluster_mod.check_mode_supported(proxy_mode)
    except UnsupportedMode as exc:
        writer.run.mode_status, writer.run.mode_reason = "skipped", str(exc)
        writer.flush()
        pytest.skip(str(exc))
    try:
        pushed = _push_images()  # before the cluster: a registry that refuses leaves nothing behind
        if reuse:
            info = cluster_mod.load(cluster_mod.normalise_name(reuse, proxy_mode))
            if info.mode is not proxy_mode:
                raise pytest.UsageError(f"--reuse-cluster {reuse} runs mode {info.mode.value}, "
                                        f"not --proxy-mode {proxy_mode.value}")
        else:
            # Not captured: cluster creation's progress lines (and "removing it, left over from an
            # interrupted run") reach the terminal and `proxylab run`'s output as they happen.
            with uncaptured(pytestconfig):
                info = cluster_mod.up(proxy_mode, workers=pytestconfig.getoption("--workers"),
                                      name=pytestconfig.getoption("--cluster-name"),
                                      keep=pytestconfig.getoption("--keep-cluster"))
    except ProxylabError as exc:
        writer.run.mode_status, writer.run.mode_reason = "failed", str(exc)
        writer.flush()
        raise
    writer.run.cluster = {"name": info.name, "up_seconds": info.up_seconds, "nodes": info.nodes}
    if pushed is not None:
        writer.run.cluster |= {"image_registry": cluster_catalog().registry, "image_push_seconds": pushed}
    writer.run.proxy_features = cluster_mod.proxy_features(info.name)
    writer.flush()
    # Checked after every e2e test: an engine restart or a node container that stopped or restarted
    # under the session ends it at once, clearly, instead of every later test timing out on it.
    pytestconfig.stash[SESSION]["engine"] = docker_mod.EngineSnapshot.take(info.nodes)
    try:
        if pushed is not None:
            from proxylab import registry

            # proxylab's own registry container (`proxylab registry up`): the nodes get its hosts.toml
            registry.connect_if_local(cluster_catalog().registry, info.nodes)
        yield info
    finally:
        if not reuse and not pytestconfig.getoption("--keep-cluster"):
            cluster_mod.down(info.name)


def _existing_cluster(config: pytest.Config, writer: ResultsWriter, found: existing_mod.Existing) -> ClusterInfo:
    """The user's cluster, as it is: permissions checked and (a local kind cluster) the containment
    guard over its ranges before any test sends traffic; a refusal ends the session in one line."""
    try:
        with uncaptured(config):
            existing_mod.prepare(found)
    except ProxylabError as exc:
        writer.run.mode_status, writer.run.mode_reason = "failed", str(exc)
        writer.run.cluster = cast(ClusterDoc, found.doc)
        writer.flush()
        pytest.exit(f"proxylab: {exc}", returncode=2)
    writer.run.cluster = cast(ClusterDoc, found.doc)
    writer.flush()
    if found.info.node_access_reason() is None:  # a local kind cluster: its node containers are watched
        config.stash[SESSION]["engine"] = docker_mod.EngineSnapshot.take(found.info.nodes)
    return found.info


@pytest.fixture(autouse=True)
def _cluster_gates(request: pytest.FixtureRequest) -> None:
    """Skips, with the reason, what the session's cluster cannot or must not do:

    - ``node_access`` tests need this host's view of the nodes (kind node containers: the host's
      containment guard, containers beside the nodes on their Docker network, the node containers'
      CPU): skipped where the cluster gives none (ClusterInfo.node_access_reason). Commands *on*
      a node go through the ``node_access`` fixture (the node agent) and need no mark.
    - ``disruptive`` tests restart, reconfigure or break the proxy in kube-system: only on clusters
      proxylab created, never on a cluster given with --kubeconfig (it is not ours to change).
    """
    marks = {m.name for m in request.node.iter_markers()}
    if not marks & {"node_access", "disruptive"}:
        return
    info: ClusterInfo = request.getfixturevalue("cluster")
    if "disruptive" in marks and info.provider == "existing":
        pytest.skip("changes the cluster's proxy on purpose (kube-system); proxylab does that only on "
                    "clusters it created, not on one given with --kubeconfig")
    reason = info.node_access_reason() if "node_access" in marks else None
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def fixture_operator(cluster: ClusterInfo) -> float:
    """The ServiceFixture operator installed in the session cluster; returns install seconds."""
    from operators.fixture import deploy
    from proxylab import kube

    catalog = cluster_catalog()
    api = kube.api_client(cluster.kubeconfig)
    with access.explained("installing the ServiceFixture operator", api):
        return deploy.install(api, catalog.operator, catalog.echo)


@pytest.fixture(scope="session")
def node_access(pytestconfig: pytest.Config, cluster: ClusterInfo) -> Iterator[NodeAccess]:
    """How tests run commands on nodes (proxylab/nodes/): the node agent, also on kind, so there is
    one way; skipped with the reason on a cluster proxylab did not create without --allow-node-agent."""
    from proxylab import kube
    from proxylab.images.catalog import cluster_catalog
    from proxylab.nodes import session as node_session

    choice = node_session.choose(pytestconfig.getoption("--node-access"),
                                 ours=not pytestconfig.getoption("--kubeconfig", default=None),
                                 allow_agent=pytestconfig.getoption("--allow-node-agent"))
    if choice.skip:
        pytest.skip(choice.skip)
    with node_session.session_access(choice, kube.api_client(cluster.kubeconfig), cluster_catalog().locust,
                                     pytestconfig.getoption("--run-id"), cluster.nodes,
                                     ttl_s=pytestconfig.getoption("--node-agent-ttl")) as access:
        writer = _writer(pytestconfig)
        if writer.run.cluster is not None:
            writer.run.cluster["node_access"] = access.name
            writer.flush()
        yield access


@pytest.fixture
def metrics(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Measured values of the current test, written to results.json whatever the verdict."""
    store: dict[str, Any] = {}
    request.node.stash[METRICS] = store
    return store


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if item.get_closest_marker("e2e") is None:
        return report
    state = item.stash.setdefault(ITEM_STATE, {"verdict": "passed", "reason": "", "duration": 0.0})
    state["duration"] += report.duration
    if report.skipped and state["verdict"] == "passed":
        state["verdict"] = "skipped"
        longrepr = report.longrepr
        if hasattr(report, "wasxfail"):  # a recorded known difference that did show
            state["reason"] = f"{EXPECTED_FAILURE}, {report.wasxfail}"
        else:
            state["reason"] = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    elif report.failed:
        state["verdict"] = "failed"
        state["reason"] = (state["reason"] + f" [{report.when}] " if state["reason"] else f"[{report.when}] ") + \
            _failure_text(report)
    # After the test body (or a failed setup), not at teardown: the last test's teardown is when
    # the session fixture deletes the cluster on purpose.
    if report.when == "call" or (report.when == "setup" and report.failed):
        state["broken"] = _cluster_broken(item)
    if report.when == "teardown":
        if state.get("broken") and state["verdict"] == "failed":
            state["reason"] += f" [the cluster broke under this test: {state['broken']}]"
        _writer(item.config).add(TestRecord(id=item.nodeid, verdict=state["verdict"], reason=state["reason"],
                                            duration=round(state["duration"], 3),
                                            metrics=item.stash.get(METRICS, {}),
                                            metric_ids=metric_ids_for(getattr(item, "function", None), item.name)))
    return report


def _cluster_broken(item: pytest.Item) -> str | None:
    """Whether the session's cluster broke (engine restarted, a node stopped or restarted) since it
    came up; the first time, the session is stopped and the mode recorded as failed with why."""
    session_state = item.config.stash[SESSION]
    snapshot: docker_mod.EngineSnapshot | None = session_state.get("engine")
    if snapshot is None or item.get_closest_marker("e2e") is None:
        return None
    if "broken" not in session_state:
        change = snapshot.changes()
        if change is None:
            return None
        message = (f"{change}: the session's cluster is no longer the one the tests ran on, so the session "
                   "stops here (the results so far are kept). Start a new session; it creates a fresh cluster.")
        session_state["broken"] = message
        writer = _writer(item.config)
        writer.run.mode_status, writer.run.mode_reason = "failed", message
        item.session.shouldstop = message
        print(f"\nproxylab: {message}", flush=True)
    broken: str = session_state["broken"]
    return broken


def pytest_sessionfinish(session: pytest.Session) -> None:
    if "broken" in session.config.stash.get(SESSION, {}) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # tests passed before the break; the run did not
    if WRITER in session.config.stash:
        session.config.stash[WRITER].finish()
        print(f"\nproxylab results: {session.config.stash[WRITER].path}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # e2e tests run after unit tests, so a broken pure function fails in seconds, not minutes.
    mode: ProxyMode = config.stash[SESSION]["mode"]
    from suites.conformance.known_differences import reason_for

    for item in items:
        reason = reason_for(mode, item.name)
        if reason:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"known {mode.value} difference: {reason}"))
    # Tests that break the cluster on purpose (and repair it) run last of all.
    items.sort(key=lambda it: (it.get_closest_marker("e2e") is not None,
                               it.get_closest_marker("disruptive") is not None))
