"""The upstream suite's pure parts: spec ids, skip list, focus regex, ginkgo reports, the behaviour
map (against the checked-in spec list, the suites' test functions and the built binary), the
pins check, and the containment guard's coverage of the addresses the specs send to."""

from __future__ import annotations

import ast
import ipaddress
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from proxylab import guard
from proxylab.errors import BuildFailed
from proxylab.images import gobuild
from proxylab.images import upstream as images
from proxylab.results import RecordDoc
from proxylab.upstream import behaviours, ginkgo, specs
from proxylab.versions import load_pins

SUITES = Path(__file__).resolve().parents[1]


def _spec_report(*items: tuple[str, str, str]) -> list[dict[str, Any]]:
    """A ginkgo JSON report (the shape `--json-report` writes) with (leaf text, state, message)."""
    return [{"SuitePath": "x", "SpecReports": [
        {"LeafNodeType": "BeforeSuite", "State": "passed"},
        *({"ContainerHierarchyTexts": ["[sig-network] Services"], "LeafNodeType": "It", "LeafNodeText": leaf,
           "State": state, "RunTime": 2_500_000_000, "ParallelProcess": 2,
           "Failure": {"Message": msg, "Location": {"FileName": "test/e2e/network/service.go", "LineNumber": 7}}
           if msg else None} for leaf, state, msg in items)]}]


def test_checked_in_list_is_of_the_pinned_version_with_unique_ids() -> None:
    version, listed = specs.read_spec_list()
    assert version == load_pins().kubernetes
    assert len(listed) >= 40
    assert len({s.slug for s in listed}) == len(listed)
    assert all(s.text.startswith("[sig-network] Services ") for s in listed)


def test_slug_drops_prefix_and_tags() -> None:
    spec = specs.Spec("[sig-network] Services should have session affinity work for NodePort service "
                      "[LinuxOnly] [Conformance]")
    assert spec.slug == "should-have-session-affinity-work-for-nodeport-service"
    assert spec.tags == ["LinuxOnly", "Conformance"]


@pytest.mark.parametrize(("text", "skipped"), [
    ("[sig-network] Services should work after restarting kube-proxy [Disruptive]", True),
    ("[sig-network] Services should allow creating a basic SCTP service with pod and endpoints [LinuxOnly] [Serial]",
     True),
    ("[sig-network] Services should serve endpoints on same port and different protocol for internal traffic on "
     "Type LoadBalancer", True),
    ("[sig-network] Services should serve a basic endpoint from pods [Conformance]", False),
])
def test_skip_list(text: str, skipped: bool) -> None:
    assert (specs.Spec(text).skip_reason() is not None) is skipped


def test_every_skip_of_the_pinned_list_has_a_reason_and_most_specs_run() -> None:
    _, listed = specs.read_spec_list()
    runnable = [s for s in listed if not s.skip_reason()]
    assert len(listed) - len(runnable) == 4, [s.slug for s in listed if s.skip_reason()]


def test_ci_subset_names_runnable_specs_of_the_list() -> None:
    _, listed = specs.read_spec_list()
    known = specs.by_slug(listed)
    assert set(specs.CI_SUBSET) <= set(known)
    assert not [s for s in specs.CI_SUBSET if known[s].skip_reason()]


def test_focus_regex_matches_exactly_the_given_specs() -> None:
    _, listed = specs.read_spec_list()
    chosen = [s for s in listed if "affinity" in s.text]
    pattern = re.compile(specs.focus_regex(chosen))  # RE2 syntax used is a subset of Python's here
    suite = "Kubernetes e2e suite "
    assert all(pattern.search(suite + s.text) for s in chosen)
    assert not any(pattern.search(suite + s.text) for s in listed if s not in chosen)
    assert "\\ " not in specs.focus_regex(chosen), "Go's regexp rejects an escaped space"
    trailing = specs.Spec("[sig-network] Services should be updated after adding or deleting ports")
    assert re.search(specs.focus_regex([trailing]), suite + trailing.text + " ")


def test_report_outcomes_and_verdicts() -> None:
    report = _spec_report(("should a", "passed", ""), ("should b", "timedout", "Timedout after 600s"),
                          ("should c", "skipped", "Only supported for providers [gce]"),
                          ("should d", "panicked", "boom"))
    found = {o.text: o for o in specs.outcomes_from_report(report)}
    assert len(found) == 4, "only It nodes are specs"
    assert found["[sig-network] Services should a"].verdict == "passed"
    assert found["[sig-network] Services should a"].seconds == 2.5
    b = found["[sig-network] Services should b"]
    assert (b.verdict, b.process) == ("failed", 2) and "Timedout after 600s (service.go:7)" == b.message
    assert found["[sig-network] Services should c"].verdict == "skipped"
    assert found["[sig-network] Services should d"].verdict == "failed"
    with pytest.raises(specs.SpecListError):
        specs.outcomes_from_report({"not": "a list"})


def test_list_differences_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    specs.write_spec_list("v1.34.4", ["[sig-network] Services should b ", "[sig-network] Services should a"], path)
    version, listed = specs.read_spec_list(path)
    assert version == "v1.34.4" and [s.text for s in listed] == ["[sig-network] Services should a",
                                                                  "[sig-network] Services should b"]
    added, removed = specs.list_differences([s.text for s in listed],
                                            ["[sig-network] Services should a", "[sig-network] Services should c"])
    assert (added, removed) == (["[sig-network] Services should c"], ["[sig-network] Services should b"])


@pytest.mark.parametrize("content", ["", "# kubernetes v1.34.4\n", "[sig-network] Services should a\n"])
def test_unusable_spec_list_is_named(tmp_path: Path, content: str) -> None:
    path = tmp_path / "list.txt"
    path.write_text(content)
    with pytest.raises(specs.SpecListError, match="upstream specs --write"):
        specs.read_spec_list(path)
    with pytest.raises(specs.SpecListError, match="cannot read"):
        specs.read_spec_list(tmp_path / "absent.txt")


def test_ginkgo_argv_runs_the_precompiled_binary_with_its_flags_after_the_separator(tmp_path: Path) -> None:
    _, listed = specs.read_spec_list()
    argv = ginkgo.argv_for(listed[:2], bin_dir=Path("/b"), kubeconfig=Path("/k"), work_dir=tmp_path, procs=3,
                           timeout_seconds=600, nodes=2)
    sep = argv.index("--")
    assert argv[0] == "/b/ginkgo" and argv[sep - 1] == "/b/e2e.test"
    assert {"--procs=3", "--timeout=600s", f"--json-report={ginkgo.REPORT}"} <= set(argv[:sep])
    assert {"--kubeconfig=/k", "--provider=skeleton", "--kubectl-path=/b/kubectl", "--num-nodes=2"} <= set(argv[sep:])


def _test_functions() -> set[str]:
    names: set[str] = set()
    for path in SUITES.rglob("test_*.py"):
        tree = ast.parse(path.read_text())
        names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    return names


def test_behaviour_map_names_existing_specs_and_tests() -> None:
    _, listed = specs.read_spec_list()
    known = specs.by_slug(listed)
    functions = _test_functions()
    for b in behaviours.BEHAVIOURS:
        assert b.upstream or b.proxylab, b.name
        assert set(b.upstream) <= set(known), f"{b.name}: unknown upstream spec ids {set(b.upstream) - set(known)}"
        assert set(b.proxylab) <= functions, f"{b.name}: unknown proxylab tests {set(b.proxylab) - functions}"
    names = [b.name for b in behaviours.BEHAVIOURS]
    assert len(set(names)) == len(names)


def test_behaviour_map_covers_what_the_issue_lists() -> None:
    both = {b.name for b in behaviours.BEHAVIOURS if b.coverage == "both"}
    for word in ("reaches", "affinity", "no endpoints", "hairpin", "source IP", "internalTrafficPolicy",
                 "terminating", "NodePort", "ports",
                 # suites/production (issue 11) covers these, which only upstream checked before
                 "ports added", "re-created", "affinity on NodePort", "externalTrafficPolicy", "fallback"):
        assert any(word in name for name in both), word
    upstream_only = " ".join(b.name for b in behaviours.BEHAVIOURS if b.coverage == "upstream only")
    for word in ("publishNotReadyAddresses", "ExternalIP"):
        assert word in upstream_only, word


def test_behaviour_map_against_the_built_binary(tmp_path: Path) -> None:
    """The map's upstream ids are specs the built e2e.test really has (not only the checked-in list)."""
    if not images.binaries_present():
        pytest.skip(f"e2e.test not built in {images.upstream_bin_dir()}: `proxylab images build` (the e2e suite "
                    "test_spec_list_matches_the_built_binary fails instead of skipping)")
    built = {specs.Spec(t).slug for t in ginkgo.dry_run_texts(images.upstream_bin_dir(), tmp_path)}
    _, listed = specs.read_spec_list()
    assert {s.slug for s in listed} == built
    assert {slug for b in behaviours.BEHAVIOURS for slug in b.upstream} <= built


def _record(test_id: str, verdict: str, reason: str = "") -> RecordDoc:
    return {"id": test_id, "verdict": verdict, "reason": reason, "metrics": {}}  # type: ignore[typeddict-item]


def test_side_verdicts_and_disagreement() -> None:
    up = behaviours.upstream_record_id
    hairpin = next(b for b in behaviours.BEHAVIOURS if b.name.startswith("hairpin"))
    ours = f"suites/conformance/test_dns_and_reachability.py::{hairpin.proxylab[0]}"
    rows = {r.behaviour.name: r for r in behaviours.rows_for([
        _record(up(hairpin.upstream[0]), "passed"), _record(ours, "failed", "[call] boom")])}
    row = rows[hairpin.name]
    assert (row.upstream, row.proxylab, row.disagreement) == ("pass", "fail", True)
    assert behaviours.side_verdict([_record("a", "skipped", "expected failure, known ebpf difference: x")]) == "fail"
    assert behaviours.side_verdict([_record("a", "skipped", "not in this run")]) == "not run"
    assert behaviours.side_verdict([]) == "not run"
    assert behaviours.side_verdict([_record("a", "passed"), _record("a[2]", "skipped", "x")]) == "pass"
    assert not rows["publishNotReadyAddresses"].disagreement


def test_pins_must_match_the_kubernetes_module(tmp_path: Path) -> None:
    pins = load_pins()
    (tmp_path / "test/utils/image").mkdir(parents=True)
    (tmp_path / "go.mod").write_text(f"require (\n\tgithub.com/onsi/ginkgo/v2 {pins.raw['upstream']['ginkgo']}\n)\n")
    manifest = tmp_path / "test/utils/image/manifest.go"
    manifest.write_text(f'configs[Agnhost] = Config{{list.PromoterE2eRegistry, "agnhost", '
                        f'"{pins.raw["upstream"]["agnhost"]}"}}\n')
    images.check_pins_match_module(pins, tmp_path)
    manifest.write_text('configs[Agnhost] = Config{list.PromoterE2eRegistry, "agnhost", "9.99"}\n')
    with pytest.raises(BuildFailed, match=r"\[upstream\].agnhost is .* uses 9.99"):
        images.check_pins_match_module(pins, tmp_path)


def test_e2e_build_keys_leave_earlier_go_builds_unchanged() -> None:
    pins = load_pins()
    assert all("test_packages" not in spec.cache_inputs() for spec in gobuild.go_builds(pins))
    e2e = images.e2e_build(pins)
    assert e2e.cache_inputs()["test_packages"] == (images.E2E_PACKAGE,)
    assert e2e.binary_names() == ["e2e.test", "agnhost", "kubectl"]


@pytest.mark.parametrize("address", ["203.0.113.250", "203.0.113.1", "10.0.0.24", "10.0.0.25",
                                     "2001:db8::cb00:71fa"])
def test_guard_covers_every_address_the_upstream_specs_send_to(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert any(ip in ipaddress.ip_network(c) for c in guard.GUARDED_CIDRS)


def test_guard_leaves_the_package_proxy_reachable() -> None:
    """203.0.113.80 serves the Go module proxy, PyPI and Debian on these machines (measured)."""
    ip = ipaddress.ip_address("203.0.113.80")
    assert not any(ip in ipaddress.ip_network(c) for c in guard.GUARDED_CIDRS)



def test_known_upstream_differences_name_specs_of_the_list() -> None:
    from proxylab.modes import all_modes

    known = specs.by_slug(specs.read_spec_list()[1])
    keys = [k for m in all_modes() for k in m.known_differences if k.startswith("test_upstream_spec[")]
    assert keys, "ebpf records its upstream differences"
    assert all(k.removeprefix("test_upstream_spec[").removesuffix("]") in known for k in keys), keys


def _stand_in_ginkgo(bin_dir: Path, body: str) -> None:
    """A ginkgo stand-in (a shell script), to exercise the runner's process handling without a cluster."""
    bin_dir.mkdir()
    script = bin_dir / "ginkgo"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)


def test_a_ginkgo_that_does_not_stop_is_killed_with_its_children(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ginkgo, "GRACE_SECONDS", 1)
    pidfile = tmp_path / "child.pid"
    _stand_in_ginkgo(tmp_path / "bin", f"sleep 300 & echo $! > {pidfile}; wait")
    _, listed = specs.read_spec_list()
    result = ginkgo.run_specs(listed[:1], bin_dir=tmp_path / "bin", kubeconfig=Path("/k"), work_dir=tmp_path / "w",
                              procs=1, timeout_seconds=1, nodes=2)
    assert result.killed and result.outcomes == [] and result.wall_seconds < 10
    child = Path(f"/proc/{pidfile.read_text().strip()}/stat")

    def gone() -> bool:
        try:
            return child.read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True

    deadline = time.monotonic() + 5
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(), "ginkgo's children must die with it (its own process group)"


def test_a_timed_out_spec_in_ginkgos_report_is_a_failure_with_its_message(tmp_path: Path) -> None:
    report = json.dumps(_spec_report(("should hang", "timedout", "A suite timeout occurred")))
    _stand_in_ginkgo(tmp_path / "bin", f"cat > \"$(echo \"$@\" | sed -n 's/.*--output-dir=\\([^ ]*\\).*/\\1/p')/"
                                       f"{ginkgo.REPORT}\" <<'EOF'\n{report}\nEOF\nexit 1")
    result = ginkgo.run_specs([specs.Spec("[sig-network] Services should hang")], bin_dir=tmp_path / "bin",
                              kubeconfig=Path("/k"), work_dir=tmp_path / "w", procs=1, timeout_seconds=60, nodes=2)
    assert not result.killed and result.exit_code == 1
    [outcome] = result.outcomes
    assert outcome.verdict == "failed" and outcome.message.startswith("A suite timeout occurred")
