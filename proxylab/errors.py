"""Every error a user can cause, in one place.

Each exception carries a message that says what went wrong *and what to do next*; the CLI prints
it without a traceback and exits non-zero.
"""


class ProxylabError(Exception):
    """Base class: an error with an actionable message."""


class CommandFailed(ProxylabError):
    """An external command (docker, kind, go, apt-get, ...) exited non-zero."""

    def __init__(self, argv: list[str], returncode: int, output: str, hint: str = "") -> None:
        self.argv = argv
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-25:])
        msg = f"command failed (exit {returncode}): {' '.join(argv)}\n{tail}"
        if hint:
            msg += f"\n-> {hint}"
        super().__init__(msg)


class InvalidArgument(ProxylabError):
    """A command-line value proxylab refuses (run ids, --modes, --resume, ...); the message names it."""


class InvalidPins(ProxylabError):
    """pins.toml cannot be read or lacks a pin; the message names the file, the table and the key."""


class UnknownMode(ProxylabError):
    """A proxy mode name that proxylab does not know."""


class UnsupportedMode(ProxylabError):
    """A known mode that this host cannot run (e.g. IPVS without ip_vs in the kernel)."""


class DockerUnavailable(ProxylabError):
    """No Docker engine answers."""


class BuildFailed(ProxylabError):
    """An image build step failed; the message names the module/package and version."""


class ClusterError(ProxylabError):
    """A cluster could not be created, became unhealthy, or runs another mode than asked."""


class WaitTimeout(ProxylabError):
    """A condition was not met before its deadline; the message names the last state seen."""


class ContainmentError(ProxylabError):
    """The traffic containment guard could not be installed or verified."""
