"""The upstream suite's plumbing: which specs a session runs, and the one ginkgo run they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from proxylab.cluster import ClusterInfo
from proxylab.images import upstream as images
from proxylab.images.catalog import cluster_catalog
from proxylab.modes import ProxyMode
from proxylab.upstream import agnhost, ginkgo
from proxylab.upstream.specs import CI_SUBSET, Outcome, Spec, by_slug, read_spec_list
from proxylab.versions import load_pins

PROCS = 3  # ginkgo parallel processes (what upstream's kind jobs use on a 1+2-node cluster)
SECONDS_PER_SPEC = 40  # ginkgo's suite timeout: 5 min + this per spec (measured: 6-60 s each, 3 at a time)


def selected_specs(config: pytest.Config) -> list[Spec]:
    """The specs this session records: all of the pinned version's, or the fixed CI subset."""
    _, specs = read_spec_list()
    if config.getoption("--upstream-set") == "all":
        return specs
    known = by_slug(specs)
    missing = [slug for slug in CI_SUBSET if slug not in known]
    if missing:
        raise pytest.UsageError(f"CI_SUBSET (proxylab/upstream/specs.py) names specs the pinned version lacks: "
                                f"{', '.join(missing)}")
    return [known[slug] for slug in CI_SUBSET]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "upstream_spec" in metafunc.fixturenames:
        chosen = selected_specs(metafunc.config)
        metafunc.parametrize("upstream_spec", chosen, ids=[s.slug for s in chosen])


@dataclass(frozen=True)
class UpstreamRun:
    ginkgo: ginkgo.GinkgoRun
    ran: list[Spec]  # the specs ginkgo was asked to run
    agnhost: agnhost.Provided  # how the cluster got agnhost (kind load, a registry, its own pull)
    work_dir: Path

    def outcome(self, spec: Spec) -> Outcome | None:
        """``spec``'s outcome in ginkgo's report (which lists every spec of e2e.test), or None."""
        return next((o for o in self.ginkgo.outcomes if o.text.rstrip() == spec.text.rstrip()), None)


@pytest.fixture(scope="session")
def upstream_run(pytestconfig: pytest.Config, cluster: ClusterInfo, proxy_mode: ProxyMode) -> UpstreamRun:
    """One ginkgo run of every selected, not skip-listed spec on the session cluster."""
    pins = load_pins()
    version, _ = read_spec_list()
    if version != pins.kubernetes:
        pytest.fail(f"the upstream spec list is of Kubernetes {version}, the pin is {pins.kubernetes}: "
                    "run `proxylab upstream specs --write` and review the difference")
    missing = images.missing_message(pins)
    if missing:
        pytest.fail(missing)
    runnable = [s for s in selected_specs(pytestconfig) if not s.skip_reason()]
    work_dir = (Path(pytestconfig.getoption("--results-dir")) / pytestconfig.getoption("--run-id")
                / proxy_mode.value / "upstream")
    provided = agnhost.provide(cluster, images.agnhost_image(pins), cluster_catalog().registry, work_dir)
    print(f"\nupstream: {len(runnable)} specs with ginkgo ({PROCS} processes); log {work_dir / ginkgo.LOG}",
          flush=True)
    result = ginkgo.run_specs(runnable, bin_dir=images.upstream_bin_dir(), kubeconfig=cluster.kubeconfig,
                              work_dir=work_dir, procs=PROCS, timeout_seconds=300 + SECONDS_PER_SPEC * len(runnable),
                              nodes=len(cluster.nodes) - 1, env=provided.env)
    return UpstreamRun(result, runnable, provided, work_dir)
