"""loadgen's result building (timeline, totals, CPU flagging) and spec validation, without a cluster."""

from __future__ import annotations

import json

import pytest

from loadgen import LoadRunFailed, LoadSpec, LoadSpecError
from loadgen.result import cpu_bound, from_raw
from loadgen.runner import RESULT_MARKER, parse_master_log


def _raw(cpu: dict[str, list[list[float]]]) -> dict[str, object]:
    return {"seconds": {"100": {"n": 10, "fail": {}, "hist": {"400": 9, "2000": 1}},
                        "102": {"n": 5, "fail": {"refused": 2, "http_503": 1}, "hist": {"500": 2}}},
            "backends": {"b": 7, "a": 4}, "cpu": cpu, "master_cpu": [[100.0, 2.0], [101.0, 3.5]],
            "locust": {"num_requests": 15}, "spec": {"users": 2}}


def test_timeline_fills_silent_seconds_and_totals_add_up() -> None:
    res = from_raw(_raw({"w0": [[100.0, 20.0], [101.0, 30.0]]}))
    assert [s.t for s in res.timeline] == [0, 1, 2]
    assert [s.requests for s in res.timeline] == [10, 0, 5]
    assert res.timeline[1].latency.p50 is None
    assert res.timeline[2].failures == {"refused": 2, "http_503": 1}
    assert res.requests == 15 and res.failures == 3
    assert res.failures_by_kind == {"refused": 2, "http_503": 1}
    assert res.duration_s == 3.0 and res.rps == 5.0
    assert res.latency.p50 == 0.4 and res.latency.max == 2.0
    assert list(res.backends) == ["a", "b"]
    assert res.master_cpu_max == 3.5
    assert not res.generator_bound
    json.dumps(res.to_json())  # serialisable for results.json


@pytest.mark.parametrize(("samples", "bound"), [
    ([50.0, 95.0, 96.0, 50.0, 97.0], False),   # busy seconds, but never 3 in a row
    ([50.0, 91.0, 95.0, 99.0, 60.0], True),
    ([95.0, 98.0], True),                        # a run shorter than the window: all of it
    ([], False),
])
def test_cpu_bound_needs_consecutive_busy_seconds(samples: list[float], bound: bool) -> None:
    assert cpu_bound(samples) is bound


def test_generator_bound_if_any_worker_is() -> None:
    res = from_raw(_raw({"w0": [[1.0, 10.0]] * 5, "w1": [[1.0, 99.0], [2.0, 99.0], [3.0, 99.0]]}))
    assert res.generator_bound
    assert [w.bound for w in res.workers] == [False, True]


def test_each_worker_has_its_node_requests_and_bound_flag() -> None:
    raw = _raw({"lg-x-worker-0": [[1.0, 30.0]] * 4, "lg-x-worker-1": [[1.0, 95.0]] * 4})
    raw.update(worker_nodes={"lg-x-worker-0": "n1", "lg-x-worker-1": "n2"},
               worker_requests={"lg-x-worker-0": 9, "lg-x-worker-1": 6})
    res = from_raw(raw)
    assert [(w.worker, w.node, w.requests, w.bound) for w in res.workers] == [
        ("lg-x-worker-0", "n1", 9, False), ("lg-x-worker-1", "n2", 6, True)]
    assert res.summary()["workers"][1] == {"worker": "lg-x-worker-1", "node": "n2", "requests": 6, "cpu_mean": 95.0,
                                           "cpu_max": 95.0, "generator_bound": True}


def test_master_log_result_is_joined_from_chunks() -> None:
    text = json.dumps({"seconds": {}, "pad": "x" * 30})
    a, b = text[:20], text[20:]
    log = f"starting\n{RESULT_MARKER}0 2 {a}\nnoise\n{RESULT_MARKER}1 2 {b}\nsummary table\n"
    assert parse_master_log(log) == {"seconds": {}, "pad": "x" * 30}
    with pytest.raises(LoadRunFailed, match="incomplete"):
        parse_master_log(f"{RESULT_MARKER}1 2 {b}\n")


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"targets": ()}, "targets is empty"),
    ({"targets": ("echo",)}, "host:port"),
    ({"users": 0}, "users"),
    ({"duration_s": 0}, "duration_s"),
    ({"duration_s": 10_000}, "hard cap"),
    ({"max_requests": 0}, "max_requests"),
])
def test_spec_rejects_what_cannot_run(kwargs: dict[str, object], needle: str) -> None:
    args: dict[str, object] = {"targets": ("echo.ns.svc:80",)} | kwargs
    with pytest.raises(LoadSpecError, match=needle):
        LoadSpec(**args)  # type: ignore[arg-type]


def test_request_count_is_split_evenly_over_users() -> None:
    spec = LoadSpec(targets=("10.244.1.2:8080", "10.244.2.3:8080"), users=3, max_requests=1000)
    assert spec.per_user == 334
    args = spec.master_args("/proxylab/locustfile.py")
    assert args[args.index("--run-time") + 1] == "15s"
    assert args[args.index("--pl-targets") + 1] == "10.244.1.2:8080,10.244.2.3:8080"


def test_target_choice_reaches_master_and_workers() -> None:
    sticky = LoadSpec(targets=("10.244.1.2:8080", "10.244.2.3:8080"), sticky=True)
    for args in (sticky.master_args("/l.py"), sticky.worker_args("/l.py", "10.244.1.9")):
        assert args[args.index("--pl-sticky") + 1] == "true"
    plain = LoadSpec(targets=("10.244.1.2:8080",)).worker_args("/l.py", "10.244.1.9")
    assert plain[plain.index("--pl-sticky") + 1] == "false"
