"""Running external commands with errors that say what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import CommandFailed


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    check: bool = True,
    input: str | bytes | None = None,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    hint: str = "",
    stream: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its combined output as text.

    ``stream=True`` copies output to stderr as it arrives (long builds) while still keeping it
    for the error message. ``hint`` is appended to the error and should say what to do next.
    """
    args = [str(a) for a in argv]
    full_env = {**os.environ, **env} if env else None
    if stream:
        proc = subprocess.Popen(
            args, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL, text=True,
        )
        if input is not None:
            assert proc.stdin is not None
            proc.stdin.write(input if isinstance(input, str) else input.decode())
            proc.stdin.close()
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            sys.stderr.write("    " + line)
        rc = proc.wait(timeout=timeout)
        result = subprocess.CompletedProcess(args, rc, "".join(lines), "")
    else:
        try:
            result = subprocess.run(
                args, cwd=cwd, env=full_env, input=input, text=not isinstance(input, bytes),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else (exc.output or "")
            raise CommandFailed(args, -1, out + f"\n(timed out after {timeout}s)", hint) from None
        if isinstance(result.stdout, bytes):
            result = subprocess.CompletedProcess(args, result.returncode, result.stdout.decode(errors="replace"), "")
    if check and result.returncode != 0:
        raise CommandFailed(args, result.returncode, result.stdout or "", hint)
    return result


def which(name: str) -> str | None:
    return shutil.which(name)


def elapsed(start: float) -> str:
    s = int(time.monotonic() - start)
    return f"{s // 60}m{s % 60:02d}s"
