"""`proxylab doctor --fix`: the only place that changes the host.

It does exactly two things, and says what it did: install and start a Docker engine when none
answers, and install the runtime wrapper when privileged containers fail (hosts without
CAP_SYS_RESOURCE in the bounding set, see host-notes). Build tools the image builder needs
(debootstrap, gcc, libseccomp-dev) are installed by the builder itself, on demand.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from . import docker, ownership
from .errors import ProxylabError, WaitTimeout
from .hosttools import apt_install
from .shell import run, which
from .wait import wait_for

WRAPPER_PATH = Path("/usr/local/libexec/proxylab/runc-no-sys-resource")
RUNTIME_NAME = "proxylab-runc"
DAEMON_JSON = Path("/etc/docker/daemon.json")
DOCKERD_LOG = Path("/var/log/proxylab-dockerd.log")
DOCKERD_STOP_TIMEOUT = 120.0  # seconds for a dockerd to stop its containers and exit


def _require_debian_root() -> None:
    if os.geteuid() != 0:
        raise ProxylabError("--fix must run as root (it installs packages); rerun with sudo")
    if not which("apt-get"):
        raise ProxylabError(
            "--fix only knows Debian-like hosts (apt-get); install a Docker engine yourself, "
            "then rerun `proxylab doctor`"
        )


def _running(pid: str) -> bool:
    """Whether process ``pid`` still runs (an exited, unreaped zombie does not). A dockerd this very
    process started (``doctor --fix`` on a bare machine starts it, then restarts it to load the
    runtime wrapper) stays a zombie after it exits until we reap it, and a new dockerd refuses to
    start while the pidfile names a /proc entry, so it is reaped here."""
    if ownership.start_time(int(pid)) is not None:
        return True
    try:
        os.waitpid(int(pid), os.WNOHANG)
    except ChildProcessError:  # not our child, or already gone
        pass
    return False


def _start_dockerd() -> None:
    """Start dockerd: through systemd when it is PID 1, else as a background daemon."""
    if Path("/run/systemd/system").is_dir():
        run(["systemctl", "restart", "docker"], hint="see `journalctl -u docker`")
    else:
        if Path("/var/run/docker.pid").exists():
            pid = Path("/var/run/docker.pid").read_text().strip()
            if pid and _running(pid):
                run(["kill", pid], check=False)
                # dockerd stops its containers first (10 s each before it forces them: kind nodes
                # ignore SIGTERM), and a new dockerd refuses to start while the pidfile is held.
                try:
                    wait_for(lambda: (not _running(pid), f"pid {pid} still running"),
                             timeout=DOCKERD_STOP_TIMEOUT, what="the old dockerd to exit", interval=0.5)
                except WaitTimeout:
                    raise ProxylabError(f"the running dockerd (pid {pid}) did not exit within "
                                        f"{DOCKERD_STOP_TIMEOUT:.0f} s of SIGTERM; stop it, then run "
                                        "`proxylab doctor --fix` again") from None
        dockerd = which("dockerd") or "/usr/sbin/dockerd"
        log = DOCKERD_LOG.open("ab")
        import subprocess

        subprocess.Popen([dockerd], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        wait_for(lambda: (bool(docker.engine_version()), "no answer"), timeout=60, what="the Docker engine",
                 interval=0.5)
    except WaitTimeout:
        raise ProxylabError(f"dockerd did not answer within 60 s; see {DOCKERD_LOG}") from None


def restart_engine() -> None:
    """Restart the Docker engine (systemd's unit, or the background dockerd `doctor --fix` started).
    Used by the resilience suite to prove that a run fails clearly when the engine restarts."""
    _start_dockerd()


def install_runtime_wrapper() -> bool:
    """Register the CAP_SYS_RESOURCE-dropping wrapper as Docker's default runtime.

    Returns True when daemon.json changed (dockerd must then restart).
    """
    real_runc = which("runc") or "/usr/sbin/runc"
    if Path(real_runc).resolve() == WRAPPER_PATH:
        raise ProxylabError("runc on PATH is the proxylab wrapper itself; reinstall Debian's runc")
    text = resources.files("proxylab.data").joinpath("runc-wrapper.py").read_text()
    WRAPPER_PATH.parent.mkdir(parents=True, exist_ok=True)
    WRAPPER_PATH.write_text(text.replace("@REAL_RUNC@", real_runc))
    WRAPPER_PATH.chmod(0o755)
    config = json.loads(DAEMON_JSON.read_text()) if DAEMON_JSON.exists() else {}
    wanted = dict(config)
    wanted.setdefault("runtimes", {})[RUNTIME_NAME] = {"path": str(WRAPPER_PATH)}
    wanted["default-runtime"] = RUNTIME_NAME
    if wanted == config:
        return False
    DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
    DAEMON_JSON.write_text(json.dumps(wanted, indent=2) + "\n")
    return True


def fix() -> list[str]:
    """Repair what `doctor` can repair; returns one line per change made."""
    _require_debian_root()
    changes: list[str] = []
    if not which("dockerd"):
        installed = apt_install("docker.io")
        changes.append(f"installed Debian packages: {', '.join(installed) or 'none'}")
    if not docker.engine_version():
        _start_dockerd()
        changes.append(f"started the Docker engine (log: {DOCKERD_LOG})")
    if not docker.privileged_works():
        if install_runtime_wrapper():
            changes.append(f"installed runtime wrapper {WRAPPER_PATH} as Docker's default runtime "
                           f"'{RUNTIME_NAME}' in {DAEMON_JSON} (drops CAP_SYS_RESOURCE)")
        _start_dockerd()
        changes.append("restarted the Docker engine to load the runtime wrapper")
        if not docker.privileged_works():
            raise ProxylabError("privileged containers still fail after installing the wrapper; "
                                f"see {DOCKERD_LOG} and `proxylab doctor`")
    return changes
