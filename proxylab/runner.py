"""`proxylab run`: every mode's suites in a pytest subprocess, then the report.

One pytest process per mode runs all requested suites against one cluster, which the session
fixture in ``suites/conftest.py`` creates and deletes; its results land in
``<results-dir>/<run-id>/<mode>/results.json`` as tests finish. A mode that fails (cluster does
not come up, tests fail, pytest crashes) is recorded and the run goes on with the next mode.
Ctrl-C / SIGTERM stop the current pytest (which tears its cluster down), keep every result
written so far, and still build the report; ``--resume RUN_ID`` reruns only the modes whose
results.json has no ``run.finished``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from types import FrameType
from typing import Any

from .errors import InvalidArgument, ProxylabError
from .modes import ProxyMode, all_modes
from .results import ResultsWriter, RunMetadata, git_commit, host_facts, validate_run_id

# The e2e suites a run can name (in run order), and those it runs when --suites is left out.
# upstream (Kubernetes' own e2e Services specs) runs last: its namespaces are still being deleted
# when it ends, and the performance suite must not measure beside that. production (proxy restarts,
# mode switches) runs after performance for the same reason: it disturbs the cluster on purpose.
KNOWN_SUITES = ("operator", "conformance", "loadgen", "performance", "production", "upstream")
DEFAULT_SUITES = ("conformance", "performance", "production", "upstream")
REPO = Path(__file__).resolve().parents[1]
TEARDOWN_GRACE = 180.0  # seconds a stopped pytest gets to delete its cluster
HEARTBEAT = 30.0  # seconds of child silence before a "still running" line
_EOF = "\0eof"


def default_modes() -> list[ProxyMode]:
    return [m for m in all_modes() if m.implemented]


def parse_modes(text: str | None) -> list[ProxyMode]:
    """``--modes``: None means the default modes; otherwise at least one mode, none twice."""
    if text is None:
        return default_modes()
    modes: list[ProxyMode] = []
    for name in (n for n in text.split(",") if n.strip()):
        mode = ProxyMode.parse(name)
        if mode in modes:
            raise InvalidArgument(f"--modes names {mode.value} twice; give each mode once (e.g. --modes iptables,ipvs)")
        modes.append(mode)
    if not modes:
        raise InvalidArgument(f"--modes {text!r} names no mode; give a comma-separated list of: "
                              + ", ".join(m.value for m in all_modes()) + " (or leave --modes out for the default)")
    return modes


def parse_suites(text: str | None, root: Path = REPO) -> list[str]:
    """Requested suites (default: DEFAULT_SUITES that exist), refusing ones not written yet."""
    present = [s for s in KNOWN_SUITES if (root / "suites" / s).is_dir()]
    if text is None:
        default = [s for s in present if s in DEFAULT_SUITES]
        if not default:
            raise ProxylabError(f"no suites under {root / 'suites'}; run proxylab from a proxylab checkout")
        return default
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    if not wanted:
        raise InvalidArgument(f"--suites {text!r} names no suite; available: {', '.join(present) or 'none'} "
                              "(or leave --suites out for all of them)")
    twice = sorted({s for s in wanted if wanted.count(s) > 1})
    if twice:
        raise InvalidArgument(f"--suites names {', '.join(twice)} more than once; give each suite once")
    missing = [s for s in wanted if s not in present]
    if missing:
        raise ProxylabError(f"suite(s) {', '.join(missing)} do not exist (yet) in {root / 'suites'}; "
                            f"available: {', '.join(present) or 'none'}")
    return wanted


def results_path(results_dir: Path, run_id: str, mode: ProxyMode) -> Path:
    return results_dir / validate_run_id(run_id) / mode.value / "results.json"


def check_resumable(results_dir: Path, run_id: str) -> Path:
    """The directory of run ``run_id`` under ``results_dir``; InvalidArgument naming the runs that
    are there when it does not exist (``--resume`` continues a run, it never starts one)."""
    validate_run_id(run_id)
    run_dir = results_dir / run_id
    if not run_dir.is_dir():
        runs = sorted(p.name for p in results_dir.iterdir() if p.is_dir()) if results_dir.is_dir() else []
        shown = ", ".join(runs[-10:]) if runs else "none"
        more = f" (and {len(runs) - 10} older)" if len(runs) > 10 else ""
        raise InvalidArgument(f"run {run_id} does not exist in {results_dir}; runs there: {shown}{more}. "
                              "Start a new run without --resume, or pass --results-dir where the run is")
    return run_dir


def is_finished(doc: dict[str, Any] | None) -> bool:
    """A mode is done when its results.json says the pytest session finished."""
    run = doc.get("run") if isinstance(doc, dict) else None
    return isinstance(run, dict) and bool(run.get("finished"))


def modes_to_run(modes: Sequence[ProxyMode], docs: dict[ProxyMode, dict[str, Any] | None]) -> list[ProxyMode]:
    """The modes a resumed run still has to do: those without a finished results.json."""
    return [m for m in modes if not is_finished(docs.get(m))]


def read_doc(path: Path) -> dict[str, Any] | None:
    """The results document at ``path``; None when it is missing, unreadable or not a JSON object."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True)
class Target:
    """An existing cluster to run against (``--kubeconfig [--context]``) instead of kind clusters."""

    kubeconfig: Path
    context: str | None = None

    def argv(self) -> list[str]:
        return ["--kubeconfig", str(self.kubeconfig), *(["--context", self.context] if self.context else [])]


def pytest_argv(mode: ProxyMode, suites: Sequence[str], run_id: str, results_dir: Path,
                python: str = sys.executable, target: Target | None = None, image_registry: str = "",
                load_workers: int = 1) -> list[str]:
    junit = results_dir / run_id / mode.value / "junit.xml"
    extra = ["--image-registry", image_registry] if image_registry else []
    if load_workers != 1:
        extra += ["--load-workers", str(load_workers)]
    return [python, "-m", "pytest", *(f"suites/{s}" for s in suites), "-m", "e2e", "--proxy-mode", mode.value,
            "--run-id", run_id, "--results-dir", str(results_dir), f"--junitxml={junit}", *extra,
            "-v", "-rfEs", "-p", "no:cacheprovider", *(target.argv() if target else [])]


def existing_modes(target: Target, given: Sequence[ProxyMode] | None) -> list[ProxyMode]:
    """The one mode an existing cluster runs: detected there, or the one ``--modes`` names when it
    agrees (ClusterAccessError, one line, when it does not or the cluster cannot be reached)."""
    from . import access, existing

    if given is not None and len(given) != 1:
        raise InvalidArgument("an existing cluster runs one proxy mode; give at most one in --modes "
                              "(or leave it out to use the detected one)")
    detection = existing.detect(access.connect(target.kubeconfig, target.context))[0]
    return [existing.check_mode(given[0] if given else None, detection, "--modes")]


def elapsed(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def progress(seconds: float, mode: str, suites: Sequence[str], message: str) -> str:
    """``[proxylab run 00:01:05 iptables/conformance] message``: what, where, and how long so far."""
    return f"[proxylab run {elapsed(seconds)} {mode}/{','.join(suites)}] {message}"


@dataclass(frozen=True)
class ModeOutcome:
    mode: str
    returncode: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode in (0, 5)  # 5: nothing collected, e.g. a suite without e2e tests


def verdict_line(outcomes: Sequence[ModeOutcome]) -> str:
    parts = [f"{o.mode} {'ok' if o.ok else f'FAILED (pytest exit {o.returncode})'} in {elapsed(o.seconds)}"
             for o in outcomes]
    return "; ".join(parts) or "nothing to run"


def _record_crash(path: Path, run_id: str, mode: ProxyMode, returncode: int) -> None:
    """A mode whose pytest died before writing anything still gets a results.json saying so."""
    writer = ResultsWriter(path, RunMetadata(run_id=run_id, mode=mode.value, versions={}, images="unknown",
                                             host=host_facts(), git_commit=git_commit(REPO),
                                             mode_status="failed",
                                             mode_reason=f"pytest exited {returncode} before recording any "
                                                         f"result; see the run's output"))
    writer.finish()


class _Stop(Exception):
    """SIGTERM or Ctrl-C reached the runner."""


def _pump(proc: subprocess.Popen[str]) -> Queue[str]:
    """The child's output lines, fed from a thread so the runner can wait with a timeout."""
    queue: Queue[str] = Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            queue.put(line.rstrip("\n"))
        queue.put(_EOF)

    threading.Thread(target=pump, daemon=True).start()
    return queue


def _next(queue: Queue[str], timeout: float) -> str | None:
    """The next line, ``_EOF`` at the end, or None after ``timeout`` seconds of silence."""
    try:
        return queue.get(timeout=timeout)
    except Empty:
        return None


def _run_mode(argv: list[str], label: Callable[[str], str], out: Callable[[str], None],
              heartbeat: float = HEARTBEAT) -> int:
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    queue = _pump(proc)
    try:
        while (line := _next(queue, heartbeat)) != _EOF:
            # cluster creation prints nothing for minutes: show the run is alive
            out(label("still running" if line is None else line))
        return proc.wait()
    except (KeyboardInterrupt, _Stop):
        proc.send_signal(signal.SIGTERM)  # the conftest turns this into a clean teardown
        deadline = time.monotonic() + TEARDOWN_GRACE
        while time.monotonic() < deadline:
            line = _next(queue, 1.0)
            if line == _EOF:
                break
            if line is not None:
                out(label(line))
        else:
            proc.kill()
        proc.wait()
        raise


def _modes_to_do(modes: Sequence[ProxyMode], run_id: str, results_dir: Path, resume: bool,
                 out: Callable[[str], None]) -> list[ProxyMode]:
    """The modes this run still has to run (all of them, or on --resume those not finished); refuses
    a bad run id, no modes, a mode given twice and a resume of a run that is not there."""
    validate_run_id(run_id)
    if not modes:
        raise InvalidArgument("no modes to run")
    if len(set(modes)) != len(modes):
        raise InvalidArgument("a mode is given twice: " + ", ".join(m.value for m in modes))
    if not resume:
        return list(modes)
    check_resumable(results_dir, run_id)
    docs = {m: read_doc(results_path(results_dir, run_id, m)) for m in modes}
    todo = modes_to_run(modes, docs)
    done = [m.value for m in modes if m not in todo]
    out(f"[proxylab run] resuming {run_id}: done {', '.join(done) or 'nothing'}; "
        f"to run {', '.join(m.value for m in todo) or 'nothing'}")
    return todo


def run(modes: Sequence[ProxyMode], suites: Sequence[str], run_id: str, results_dir: Path, *,
        resume: bool = False, history: Sequence[Path] = (), out: Callable[[str], None] = print,
        target: Target | None = None, image_registry: str = "", load_workers: int = 1) -> int:
    """Run every mode, build the report; 0 when no mode failed, 1 otherwise, 130 when stopped.
    ``image_registry``: push proxylab's own images there and have the clusters pull them.
    ``load_workers``: locust workers per throughput run, one per node."""
    results_dir = results_dir.resolve()
    t0 = time.monotonic()
    todo = _modes_to_do(modes, run_id, results_dir, resume, out)
    names = ", ".join(m.value for m in todo) or "none left"
    out(f"[proxylab run] run {run_id}: modes {names}; suites {', '.join(suites)}; results in {results_dir / run_id}")

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, on_term)
    outcomes: list[ModeOutcome] = []
    stopped = False
    try:
        for mode in todo:
            m0 = time.monotonic()
            out(progress(m0 - t0, mode.value, suites, f"starting on the existing cluster of {target.kubeconfig}"
                         if target else "starting (cluster up, tests, cluster down)"))

            def label(line: str, mode: ProxyMode = mode) -> str:
                return progress(time.monotonic() - t0, mode.value, suites, line)

            argv = pytest_argv(mode, suites, run_id, results_dir, target=target, image_registry=image_registry,
                               load_workers=load_workers)
            code = _run_mode(argv, label, out)
            path = results_path(results_dir, run_id, mode)
            if read_doc(path) is None:
                _record_crash(path, run_id, mode, code)
            outcomes.append(ModeOutcome(mode.value, code, time.monotonic() - m0))
            out(progress(time.monotonic() - t0, mode.value, suites, verdict_line(outcomes[-1:])))
    except (KeyboardInterrupt, _Stop):
        stopped = True
        out(f"[proxylab run] stopped; results so far are kept. Continue with: proxylab run --resume {run_id}")
    finally:
        signal.signal(signal.SIGTERM, previous)
    out(f"[proxylab run {elapsed(time.monotonic() - t0)}] {verdict_line(outcomes)}")
    _report(results_dir / run_id, history, out)
    if stopped:
        return 130
    return 0 if all(o.ok for o in outcomes) else 1


def _report(run_dir: Path, history: Sequence[Path], out: Callable[[str], None]) -> None:
    """Build the run's report. Results that cannot be reported on (ReportError: malformed or
    unreadable files, named with the field) or a report that cannot be written leave the run's
    verdict and results untouched: the line says why and how to retry."""
    import reports

    try:
        data = reports.build([run_dir], run_dir / "report.html", history=history)
    except (ProxylabError, OSError) as exc:
        out(f"[proxylab run] no report: {exc}; once fixed: proxylab report {run_dir} -o {run_dir / 'report.html'}")
        return
    out(f"[proxylab run] report: {run_dir / 'report.html'} ({len(data.regressions)} regressions)")
