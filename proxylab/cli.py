"""The `proxylab` command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import TypeAlias

from .constants import MAX_LOAD_WORKERS
from .errors import ProxylabError
from .modes import ProxyMode, all_modes

# What add_subparsers() returns: each _add_<command> below adds one top-level command to it.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _cmd_doctor(args: argparse.Namespace) -> int:
    from . import doctor, provision

    if args.fix:
        for change in provision.fix():
            print(f"changed: {change}")
    items = doctor.checks()
    if args.json:
        print(json.dumps(doctor.as_json(items), indent=2))
    else:
        for c in items:
            print(f"{c.status:<12} {c.name:<22} {c.detail}")
    return 1 if any(c.failed for c in items) else 0


def _cmd_images_build(args: argparse.Namespace) -> int:
    from .images import build

    build.build_all(strategy=args.strategy)
    return 0


def _cmd_cluster_up(args: argparse.Namespace) -> int:
    from . import cluster

    info = cluster.up(ProxyMode.parse(args.mode), workers=args.workers, name=args.name, keep=True)
    print(f"cluster {info.name} ({info.mode.value}) is up; kubeconfig: {info.kubeconfig}")
    print(f"  export KUBECONFIG={info.kubeconfig}")
    return 0


def _cmd_cluster_down(args: argparse.Namespace) -> int:
    from . import cluster

    if not args.all and not args.name:
        raise ProxylabError("name a cluster or pass --all (see `proxylab cluster list`)")
    for line in cluster.down(None if args.all else args.name):
        print(line)
    return 0


def _cmd_cluster_network(args: argparse.Namespace) -> int:
    from . import plainkind

    plainkind.prepare(args.name, load_images=not args.no_images)
    return 0


def _cmd_cluster_list(args: argparse.Namespace) -> int:
    from . import cluster

    rows = cluster.list_clusters()
    if not rows:
        print("no proxylab clusters")
    for row in rows:
        print(f"{row.name:<28} {row.mode:<10} nodes={row.nodes:<3} kubeconfig={row.kubeconfig}")
    return 0


def _cmd_cluster_switch_mode(args: argparse.Namespace) -> int:
    from . import switchmode

    done = switchmode.switch(args.name, args.to)
    print(f"cluster {done.cluster}: now {done.new.value} (was {done.old.value}); proxy resynced in "
          f"{done.resync_s:.1f}s, {done.total_s:.0f}s in all")
    return 0


def _cmd_registry_up(args: argparse.Namespace) -> int:
    from . import cluster, registry

    ref = registry.up(args.port)
    print(f"registry {registry.CONTAINER} answers on 127.0.0.1:{args.port}; use --image-registry {ref}")
    for name in args.cluster:
        for line in registry.connect(cluster.load(cluster.validate_name(name)).nodes, args.port):
            print(f"  {line}")
    return 0


def _cmd_registry_down(args: argparse.Namespace) -> int:
    from . import registry

    for line in registry.down():
        print(line)
    return 0


def _cmd_registry_push(args: argparse.Namespace) -> int:
    from . import registry
    from .images.catalog import Catalog
    from .versions import load_pins

    for pushed in registry.push(Catalog(load_pins()).with_registry(args.registry)):
        print(f"pushed {pushed.remote} in {pushed.seconds:.1f}s")
    return 0


def _cmd_modes(args: argparse.Namespace) -> int:
    if args.tox_envs:
        # Every implemented mode gets its env (unsupported ones report their skip reason there),
        # except configured variants, which the nightly job runs. The kill tests (env resilience,
        # ~8 min of cluster creations and kills, not per mode) run nightly too: the test command
        # has to fit the CI's 90 minutes with room to spare.
        testable = [m.value for m in all_modes() if not args.testable or (m.implemented and m.in_test_command)]
        print(",".join(["lint", "type", "unit", *testable, "report"]))
        return 0
    width = max(10, *(len(m.value) for m in all_modes()))
    for mode in all_modes():
        ok, reason = mode.host_support()
        ok, reason = ok and mode.implemented, reason if mode.implemented else "not implemented yet"
        print(f"{mode.value:<{width}} {'supported' if ok else 'unsupported':<12} {mode.host_requirement}; {reason}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    import reports

    data = reports.build([Path(p) for p in args.results], Path(args.output),
                         history=[Path(p) for p in args.history], threshold=args.threshold / 100,
                         markdown_summary=Path(args.markdown_summary) if args.markdown_summary else None)
    print(f"report: {args.output} ({len(data.modes)} modes, {len(data.rows)} tests, {len(data.charts)} charts, "
          f"{len(data.regressions)} regressions)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import runner
    from .results import new_run_id

    if args.context and not args.kubeconfig:
        raise ProxylabError("--context needs --kubeconfig (the file the context is in)")
    target = runner.Target(Path(args.kubeconfig).expanduser(), args.context) if args.kubeconfig else None
    if target is not None:
        modes = runner.existing_modes(target, runner.parse_modes(args.modes) if args.modes else None)
    else:
        modes = runner.parse_modes(args.modes)
    if args.run_id and args.resume:
        raise ProxylabError("--run-id names a new run and --resume an earlier one: give one of them")
    return runner.run(modes, runner.parse_suites(args.suites),
                      args.resume or args.run_id or new_run_id(), Path(args.results_dir),
                      resume=args.resume is not None, history=[Path(p) for p in args.history], target=target,
                      image_registry=args.image_registry, load_workers=args.load_workers)


def _cmd_cleanup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import cleanup

    cleanup.cleanup(Path(args.kubeconfig).expanduser(), args.context, args.run_id)
    return 0


def _load_workers_arg(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_LOAD_WORKERS:
        raise argparse.ArgumentTypeError(f"must be a whole number 1..{MAX_LOAD_WORKERS} (locust workers, one per node), "
                                         f"got {value!r}")
    return n


def _mode_arg(value: str) -> str:
    ProxyMode.parse(value)  # raises UnknownMode with the valid list
    return value


def _percent_arg(value: str) -> float:
    """``--threshold``: a finite percentage >= 0 (argparse turns the ValueError into a usage error)."""
    try:
        pct = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of percent, got {value!r}") from None
    if not math.isfinite(pct) or not 0 <= pct <= 10_000:
        raise argparse.ArgumentTypeError(f"must be a number of percent, 0..10000, got {value!r}")
    return pct


def _run_id_arg(value: str) -> str:
    from .errors import InvalidArgument
    from .results import validate_run_id

    try:
        return validate_run_id(value)
    except InvalidArgument as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _registry_arg(value: str) -> str:
    from .errors import InvalidArgument
    from .images.catalog import normalise_registry

    try:
        return normalise_registry(value)
    except InvalidArgument as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workers_arg(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if not 0 <= n <= 10:
        raise argparse.ArgumentTypeError(f"must be between 0 and 10, got {n}")
    return n


def _cmd_upstream_specs(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from .images import upstream as images
    from .upstream import ginkgo, specs
    from .versions import load_pins

    pins = load_pins()
    if not images.binaries_present():
        raise ProxylabError(images.missing_message(pins) or "e2e.test not built")
    with tempfile.TemporaryDirectory() as tmp:
        built = ginkgo.dry_run_texts(images.upstream_bin_dir(), Path(tmp))
    try:
        version, listed = specs.read_spec_list()
    except specs.SpecListError:
        version, listed = "(none)", []
    added, removed = specs.list_differences([s.text for s in listed], built)
    print(f"e2e.test of {pins.kubernetes}: {len(built)} specs; checked-in list of {version}: {len(listed)}")
    for text in added:
        print(f"  + {text}")
    for text in removed:
        print(f"  - {text}")
    if args.write:
        specs.write_spec_list(pins.kubernetes, built)
        print(f"wrote {specs.SPEC_LIST}; check proxylab/upstream/behaviours.py and CI_SUBSET against the changes")
        return 0
    return 1 if added or removed or version != pins.kubernetes else 0


def _add_doctor(sub: Subparsers) -> None:
    """`proxylab doctor`."""
    d = sub.add_parser("doctor", help="check (and with --fix, repair) the host")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument("--fix", action="store_true",
                   help="root, Debian-like hosts: install/start Docker and the runtime wrapper")
    d.set_defaults(func=_cmd_doctor)


def _add_images(sub: Subparsers) -> None:
    """`proxylab images build`."""
    img = sub.add_parser("images", help="node and fixture images").add_subparsers(dest="sub", required=True)
    b = img.add_parser("build", help="obtain every image: pull when a registry answers, else build")
    g = b.add_mutually_exclusive_group()
    g.add_argument("--pull", dest="strategy", action="store_const", const="pull")
    g.add_argument("--offline", dest="strategy", action="store_const", const="offline")
    g.add_argument("--auto", dest="strategy", action="store_const", const="auto")
    b.set_defaults(func=_cmd_images_build, strategy="auto")


def _add_modes(sub: Subparsers) -> None:
    """`proxylab modes`."""
    m = sub.add_parser("modes", help="list proxy modes and whether this host supports them")
    m.add_argument("--testable", action="store_true", help="only modes proxylab implements")
    m.add_argument("--tox-envs", action="store_true", help="print the tox envs of the test command")
    m.set_defaults(func=_cmd_modes)


def _add_cluster(sub: Subparsers) -> None:
    """`proxylab cluster up|down|switch-mode|network|list`."""
    c = sub.add_parser("cluster", help="kind clusters, one per proxy mode").add_subparsers(dest="sub", required=True)
    up = c.add_parser("up", help="create a cluster and verify its proxy mode")
    up.add_argument("--mode", required=True, type=_mode_arg,
                    help="one of: " + ", ".join(m.value for m in all_modes()))
    up.add_argument("--workers", type=_workers_arg, default=2, help="worker nodes, 0..10 (default 2)")
    up.add_argument("--name", default=None)
    up.set_defaults(func=_cmd_cluster_up)
    down = c.add_parser("down", help="delete a cluster (or --all proxylab clusters)")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true")
    down.set_defaults(func=_cmd_cluster_down)
    sw = c.add_parser("switch-mode", help="change a running cluster's proxy mode in place (kube-proxy proxiers)")
    sw.add_argument("name")
    sw.add_argument("--to", required=True, metavar="MODE", help="the mode to switch to, e.g. nftables")
    sw.set_defaults(func=_cmd_cluster_switch_mode)
    net = c.add_parser("network", help="pod networking and proxylab's images for a kind cluster made outside "
                                       "proxylab from its node image (with disableDefaultCNI: true)")
    net.add_argument("name", help="the kind cluster's name")
    net.add_argument("--no-images", action="store_true", help="do not load proxylab's own images")
    net.set_defaults(func=_cmd_cluster_network)
    ls = c.add_parser("list", help="list proxylab clusters")
    ls.set_defaults(func=_cmd_cluster_list)


def _add_registry(sub: Subparsers) -> None:
    """`proxylab registry up|down|push`."""
    reg = sub.add_parser("registry", help="a local image registry for --image-registry").add_subparsers(
        dest="sub", required=True)
    rup = reg.add_parser("up", help="run the registry on the clusters' network, 127.0.0.1 only on the host")
    rup.add_argument("--port", type=int, default=5001, help="host port on 127.0.0.1 (default 5001)")
    rup.add_argument("--cluster", action="append", default=[], metavar="NAME",
                     help="also point this cluster's nodes' containerd at it; repeatable")
    rup.set_defaults(func=_cmd_registry_up)
    rdown = reg.add_parser("down", help="remove the registry container and what was pushed to it")
    rdown.set_defaults(func=_cmd_registry_down)
    rpush = reg.add_parser("push", help="push proxylab's own images (echo, locust, operator) to REGISTRY")
    rpush.add_argument("registry", metavar="REGISTRY", type=_registry_arg,
                       help="host[:port][/path], e.g. localhost:5001")
    rpush.set_defaults(func=_cmd_registry_push)


def _add_upstream(sub: Subparsers) -> None:
    """`proxylab upstream specs`."""
    up_ = sub.add_parser("upstream", help="Kubernetes' own e2e Services specs").add_subparsers(dest="sub", required=True)
    sp = up_.add_parser("specs", help="compare the built e2e.test's spec list with the checked-in one")
    sp.add_argument("--write", action="store_true", help="rewrite proxylab/upstream/services-specs.txt from it")
    sp.set_defaults(func=_cmd_upstream_specs)


def _add_report(sub: Subparsers) -> None:
    """`proxylab report`."""
    rep = sub.add_parser("report", help="one self-contained HTML report from results.json files")
    rep.add_argument("results", nargs="+", metavar="RESULTS",
                     help="results.json files or directories searched recursively (e.g. results/<run-id>)")
    rep.add_argument("-o", "--output", default="reports/out/index.html", help="the HTML file to write")
    rep.add_argument("--history", action="append", default=[], metavar="DIR",
                     help="earlier results (directories or files) for trends and regressions; repeatable")
    rep.add_argument("--threshold", type=_percent_arg, default=10.0, metavar="PCT",
                     help="regression threshold in percent vs the previous run (default 10)")
    rep.add_argument("--markdown-summary", metavar="FILE",
                     help="also append a Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY)")
    rep.set_defaults(func=_cmd_report)


def _add_verdicts(sub: Subparsers) -> None:
    """`proxylab verdicts`."""
    v = sub.add_parser("verdicts", help="compare two runs test by test (verdicts only); exit 1 when one changed")
    v.add_argument("before", metavar="BEFORE", help="results of the first run (e.g. results/<run-id>)")
    v.add_argument("after", metavar="AFTER", help="results of the second run")
    v.set_defaults(func=_cmd_verdicts)


def _cmd_verdicts(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reports import load, verdicts

    comparison = verdicts.compare(load.load([Path(args.before)]), load.load([Path(args.after)]))
    for line in verdicts.describe(comparison):
        print(line)
    return 0 if comparison.same else 1


def _add_run(sub: Subparsers) -> None:
    """`proxylab run`."""
    run = sub.add_parser("run", help="the main job: every mode's suites on its own cluster, then the report")
    run.add_argument("--modes", default=None, metavar="M1,M2",
                     help="comma-separated, of: " + ", ".join(m.value for m in all_modes())
                     + " (default: the implemented ones; unsupported ones are recorded as skipped)")
    run.add_argument("--suites", default=None, metavar="S1,S2",
                     help="comma-separated, of: operator, conformance, loadgen, performance, production, upstream "
                          "(default: conformance, performance, production, upstream)")
    run.add_argument("--resume", default=None, metavar="RUN_ID", type=_run_id_arg,
                     help="continue RUN_ID: skip modes already finished")
    run.add_argument("--run-id", default=None, metavar="ID", type=_run_id_arg,
                     help="the new run's id (default: the UTC time); it labels what the run creates, "
                          "so `proxylab cleanup --run-id ID` removes exactly that")
    run.add_argument("--results-dir", default="results", help="results/<run-id>/<mode>/results.json go here")
    run.add_argument("--history", action="append", default=[], metavar="DIR",
                     help="earlier results for the report's trends and regressions; repeatable")
    run.add_argument("--image-registry", default="", type=_registry_arg, metavar="REGISTRY",
                     help="push proxylab's own images (echo, locust, operator) to REGISTRY (host[:port][/path]) "
                          "and have the clusters pull them from there (default: kind loads them)")
    run.add_argument("--kubeconfig", default=None, metavar="PATH",
                     help="run against the existing cluster of this kubeconfig (created and deleted by nobody "
                          "but you; its proxy mode is detected); `proxylab cleanup` removes what the run left")
    run.add_argument("--context", default=None, metavar="NAME", help="the kubeconfig's context (default: current)")
    run.add_argument("--load-workers", default=1, type=_load_workers_arg, metavar="N",
                     help="locust workers of each throughput run, spread one per node (default 1); "
                          "needs N schedulable worker nodes")
    run.set_defaults(func=_cmd_run)


def _add_cleanup(sub: Subparsers) -> None:
    """`proxylab cleanup`."""
    cl = sub.add_parser("cleanup", help="remove what proxylab created in a cluster (by its run label only)")
    cl.add_argument("--kubeconfig", required=True, metavar="PATH")
    cl.add_argument("--context", default=None, metavar="NAME", help="the kubeconfig's context (default: current)")
    cl.add_argument("--run-id", default=None, type=_run_id_arg, metavar="ID",
                    help="only what run ID created (default: what any proxylab run created)")
    cl.set_defaults(func=_cmd_cleanup)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="proxylab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_doctor, _add_images, _add_modes, _add_cluster, _add_registry, _add_upstream,
                _add_report, _add_verdicts, _add_run, _add_cleanup):
        add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except ProxylabError as exc:
        print(f"proxylab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("proxylab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
