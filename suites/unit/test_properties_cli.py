"""Property: the CLI's names and options are accepted (and then safe: a cluster's state path and a
run's directory stay where they belong) or refused with proxylab's own error; never a crash."""

from __future__ import annotations

import math
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxylab import cli, cluster, runner
from proxylab.errors import ClusterError, InvalidArgument, ProxylabError
from proxylab.modes import ProxyMode, all_modes
from proxylab.results import validate_run_id

from .props import props

NAME_CHARS = string.ascii_lowercase + string.digits + "-./_ A\n\x00"
NAMES = (st.text(alphabet=NAME_CHARS, max_size=60) | st.text(max_size=20)
         | st.sampled_from(["..", ".", "proxylab-iptables/../../../victim", "/etc", "a" * 41, "a" * 42, "x"]))


@props(300)
@given(name=NAMES | st.none(), mode=st.sampled_from(all_modes()))
def test_cluster_names_are_labels_whose_state_stays_inside(name: str | None, mode: ProxyMode,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    state = tmp_path_factory.getbasetemp() / "state"
    try:
        full = cluster.normalise_name(name, mode)
    except ClusterError as exc:
        assert "invalid cluster name" in str(exc)
        return
    assert full.startswith(cluster.PREFIX) and len(full) <= cluster.NAME_MAX
    assert all(c in string.ascii_lowercase + string.digits + "-" for c in full) and full[-1] != "-"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROXYLAB_STATE", str(state))
        path = cluster.cluster_dir(full)
    assert path.parent == (state / "clusters").resolve() and path.name == full


@props(300)
@given(run_id=st.text(alphabet=string.ascii_letters + string.digits + "._-/ \n", max_size=140) | st.text(max_size=10)
       | st.sampled_from(["..", ".", "../../x", "a/b", "nightly-1", "20260101-000000"]))
def test_run_ids_are_one_path_component_or_refused(run_id: str) -> None:
    try:
        validate_run_id(run_id)
    except InvalidArgument as exc:
        assert "invalid run id" in str(exc)
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["run", "--resume", run_id])
        return
    root = Path("/results")
    assert (root / run_id).parent == root and (root / run_id).resolve().parent == root.resolve()
    assert run_id not in (".", "..") and "/" not in run_id
    assert cli.build_parser().parse_args(["run", "--resume", run_id]).resume == run_id


MODE_WORDS = st.sampled_from([m.value for m in all_modes()] + ["IPVS", " ebpf ", "userspace", "", " "])


@props(300)
@given(text=st.lists(MODE_WORDS, max_size=5).map(",".join) | st.text(alphabet="iptablesnfv, ", max_size=30))
def test_modes_parse_to_distinct_known_modes_or_refuse(text: str) -> None:
    try:
        modes = runner.parse_modes(text)
    except ProxylabError as exc:
        assert "mode" in str(exc), str(exc)
        return
    assert modes and len(set(modes)) == len(modes)


@props(250)
@given(text=st.lists(st.sampled_from(["conformance", "performance", "nope", "", " "]), max_size=4).map(",".join)
       | st.text(max_size=15))
def test_suites_parse_to_distinct_existing_suites_or_refuse(text: str) -> None:
    try:
        suites = runner.parse_suites(text)
    except ProxylabError as exc:
        assert "suite" in str(exc), str(exc)
        return
    assert suites and len(set(suites)) == len(suites) and set(suites) <= set(runner.KNOWN_SUITES)


@props(250)
@given(value=st.text(max_size=12) | st.floats(allow_nan=True, allow_infinity=True).map(repr)
       | st.integers(-10**6, 10**6).map(str))
def test_threshold_option_is_a_bounded_percentage_or_a_usage_error(value: str) -> None:
    parser = cli.build_parser()
    try:
        args = parser.parse_args(["report", "results", "--threshold", value])
    except SystemExit as exc:
        assert exc.code == 2
        return
    assert math.isfinite(args.threshold) and 0 <= args.threshold <= 10_000


@props(200)
@given(value=st.text(max_size=6) | st.integers(-50, 50).map(str))
def test_workers_option_is_0_to_10_or_a_usage_error(value: str) -> None:
    try:
        args = cli.build_parser().parse_args(["cluster", "up", "--mode", "iptables", "--workers", value])
    except SystemExit as exc:
        assert exc.code == 2
        return
    assert 0 <= args.workers <= 10
