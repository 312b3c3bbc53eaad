"""Run upstream specs with ginkgo (parallel processes) against a cluster, and read what happened.

The run is bounded twice: ginkgo's own ``--timeout`` interrupts a hanging spec and reports it
(state "timedout"/"interrupted", recorded as failed with ginkgo's message), and a hard limit a
few minutes later kills ginkgo's whole process group if it does not stop by itself. Specs ginkgo
never reached are reported as such by the caller, never dropped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..shell import run
from .specs import FOCUS, Outcome, Spec, SpecListError, focus_regex, load_report

GRACE_SECONDS = 180  # after ginkgo's own timeout, before its process group is killed
REPORT = "ginkgo-report.json"
LOG = "ginkgo.log"


@dataclass(frozen=True)
class GinkgoRun:
    outcomes: list[Outcome]
    wall_seconds: float
    exit_code: int
    killed: bool  # ginkgo did not stop within its timeout + GRACE_SECONDS
    log: Path
    argv: list[str]

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no ginkgo log)"


def argv_for(specs: Sequence[Spec], *, bin_dir: Path, kubeconfig: Path, work_dir: Path, procs: int,
             timeout_seconds: int, nodes: int) -> list[str]:
    """The ginkgo command line (pure, unit-tested): precompiled e2e.test, its flags after `--`."""
    return [
        str(bin_dir / "ginkgo"), f"--procs={procs}", f"--timeout={timeout_seconds}s", "--no-color",
        f"--focus={focus_regex(specs)}", f"--output-dir={work_dir}", f"--json-report={REPORT}",
        "--silence-skips", "--poll-progress-after=180s",
        str(bin_dir / "e2e.test"), "--",
        f"--kubeconfig={kubeconfig}", "--provider=skeleton", f"--kubectl-path={bin_dir / 'kubectl'}",
        f"--num-nodes={nodes}", "--dump-logs-on-failure=false", f"--report-dir={work_dir}",
    ]


def run_specs(specs: Sequence[Spec], *, bin_dir: Path, kubeconfig: Path, work_dir: Path, procs: int,
              timeout_seconds: int, nodes: int, env: Mapping[str, str] | None = None) -> GinkgoRun:
    """Run ``specs``; ginkgo's output goes to ``work_dir/ginkgo.log``, its JSON report beside it.
    ``env``: more environment for e2e.test (e.g. KUBE_TEST_REPO_LIST)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / REPORT).unlink(missing_ok=True)
    argv = argv_for(specs, bin_dir=bin_dir, kubeconfig=kubeconfig, work_dir=work_dir, procs=procs,
                    timeout_seconds=timeout_seconds, nodes=nodes)
    log = work_dir / LOG
    t0 = time.monotonic()
    killed = False
    with log.open("w") as out:
        # Its own session: a hard kill takes ginkgo's parallel processes with it.
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, **(env or {}), "KUBECONFIG": str(kubeconfig)})
        try:
            code = proc.wait(timeout=timeout_seconds + GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            killed = True
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        except BaseException:  # Ctrl-C / SIGTERM of the session: never leave ginkgo running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    report = work_dir / REPORT
    outcomes = load_report(report) if report.exists() else []
    return GinkgoRun(outcomes=outcomes, wall_seconds=round(time.monotonic() - t0, 1), exit_code=code,
                     killed=killed, log=log, argv=argv)



def dry_run_texts(bin_dir: Path, work_dir: Path) -> list[str]:
    """The `[sig-network] Services` specs the built e2e.test has (its dry run; no cluster needed).

    In a dry run ginkgo reports the focused specs as "passed" and every other one as "skipped"."""
    work_dir.mkdir(parents=True, exist_ok=True)
    report = work_dir / "dry-run.json"
    report.unlink(missing_ok=True)
    run([bin_dir / "e2e.test", "--ginkgo.dry-run", f"--ginkgo.focus={FOCUS}", "--ginkgo.no-color",
         f"--ginkgo.json-report={report}", "--provider=skeleton"], timeout=300,
        hint="the e2e.test dry run failed; rebuild it with `proxylab images build`")
    selected = [o.text for o in load_report(report) if o.state == "passed"] if report.exists() else []
    if not selected:
        raise SpecListError(f"e2e.test's dry run listed no spec matching {FOCUS!r} ({report})")
    return selected
