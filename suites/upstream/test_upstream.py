"""Kubernetes' own e2e `[sig-network] Services` specs on the session cluster, one record per spec.

Every spec of the pinned version is a test here (parametrized from the checked-in list,
proxylab/upstream/services-specs.txt), so results.json, the matrix, history and regression flags
treat them like proxylab's own tests. One ginkgo run (parallel processes) serves them all; each
test reads its spec's outcome from ginkgo's JSON report. Skip-listed specs are recorded as
skipped with the reason (proxylab/upstream/specs.py: SKIPS). A mode's known difference on a spec
(its module's ``known_differences``, key ``test_upstream_spec[<spec id>]``) is a strict xfail.
"""

from __future__ import annotations

from typing import Any

import pytest

from proxylab.images import upstream as images
from proxylab.upstream import ginkgo
from proxylab.upstream.specs import Spec, by_slug, list_differences, read_spec_list
from proxylab.versions import load_pins
from suites.upstream.conftest import PROCS, UpstreamRun

pytestmark = pytest.mark.e2e


def test_upstream_spec(upstream_spec: Spec, request: pytest.FixtureRequest, metrics: dict[str, Any]) -> None:
    metrics.update(spec=upstream_spec.text, tags=upstream_spec.tags)
    reason = upstream_spec.skip_reason()
    if reason:
        pytest.skip(reason)
    run: UpstreamRun = request.getfixturevalue("upstream_run")
    outcome = run.outcome(upstream_spec)
    if outcome is None:
        why = (f"ginkgo was killed after {run.ginkgo.wall_seconds:.0f} s (its timeout plus {ginkgo.GRACE_SECONDS} s)"
               if run.ginkgo.killed else f"ginkgo exited {run.ginkgo.exit_code}")
        pytest.fail(f"{why} without reporting this spec; log {run.ginkgo.log}:\n{run.ginkgo.tail()}")
    metrics.update(state=outcome.state, seconds=outcome.seconds, process=outcome.process,
                   ginkgo_log=str(run.ginkgo.log))
    if outcome.verdict == "skipped":
        if not outcome.message:  # a spec's own skip (e2eskipper) says why; a filtered-out one says nothing
            pytest.fail("ginkgo did not select this spec (the focus regex missed it): proxylab/upstream/specs.py "
                        f"focus_regex; command in {run.ginkgo.log}")
        pytest.skip(f"upstream skipped it: {outcome.message[:500]}")
    if outcome.verdict == "failed":
        pytest.fail(f"upstream spec {outcome.state}: {outcome.message[:1200]}", pytrace=False)


def test_upstream_run(upstream_run: UpstreamRun, metrics: dict[str, Any]) -> None:
    """The ginkgo run as a whole: its wall time (for the report beside proxylab's conformance time),
    and that it finished by itself and reported every spec it was given."""
    run = upstream_run.ginkgo
    outcomes = {s.slug: upstream_run.outcome(s) for s in upstream_run.ran}
    counts = {v: sum(1 for o in outcomes.values() if o and o.verdict == v) for v in ("passed", "failed", "skipped")}
    unreported = [slug for slug, o in outcomes.items() if o is None]
    metrics.update(wall_seconds=run.wall_seconds, procs=PROCS, specs=len(upstream_run.ran), **counts,
                   unreported=unreported, exit_code=run.exit_code, killed=run.killed,
                   agnhost_load_seconds=upstream_run.agnhost.seconds,
                   agnhost_source=upstream_run.agnhost.how, agnhost_reference=upstream_run.agnhost.reference,
                   ginkgo_log=str(run.log),
                   argv=run.argv[:3])
    assert not run.killed, f"ginkgo did not stop within its timeout; log {run.log}"
    assert not unreported, f"ginkgo's report lacks {len(unreported)} spec(s): {', '.join(unreported)}"


def test_spec_list_matches_the_built_binary(tmp_path_factory: pytest.TempPathFactory,
                                            metrics: dict[str, Any]) -> None:
    """The checked-in list is the built e2e.test's: a version bump that adds or drops specs fails here."""
    pins = load_pins()
    if not images.binaries_present():
        pytest.fail(images.missing_message(pins) or "e2e.test not built")
    version, specs = read_spec_list()
    built = ginkgo.dry_run_texts(images.upstream_bin_dir(), tmp_path_factory.mktemp("dry-run"))
    added, removed = list_differences([s.text for s in specs], built)
    metrics.update(version=version, listed=len(specs), built=len(built), added=added, removed=removed)
    assert version == pins.kubernetes, f"the list is of {version}, the pin {pins.kubernetes}"
    assert not added and not removed, (
        f"e2e.test of {pins.kubernetes} has {len(added)} spec(s) the list lacks {added} and lacks {len(removed)} "
        f"it has {removed}; run `proxylab upstream specs --write`, then update the behaviour map")
    assert len(by_slug(specs)) == len(specs)
