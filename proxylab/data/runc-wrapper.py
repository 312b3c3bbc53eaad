#!/usr/bin/python3
"""OCI runtime wrapper installed by `proxylab doctor --fix`.

Hosts whose capability bounding set lacks CAP_SYS_RESOURCE cannot start privileged containers:
runc fails with "unable to apply caps: operation not permitted" because a privileged spec asks
for every capability. This wrapper removes CAP_SYS_RESOURCE from the spec (config.json for
create/run, the --process file for exec) and then execs the real runc unchanged.
"""
import json
import os
import sys

REAL_RUNC = "@REAL_RUNC@"
DROP = "CAP_SYS_RESOURCE"


def _opt(args: list[str], *names: str) -> str | None:
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def _strip(caps: dict[str, object]) -> None:
    for key in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        value = caps.get(key)
        if isinstance(value, list):
            caps[key] = [c for c in value if c != DROP]


def _rewrite(path: str, process_only: bool) -> None:
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return
    proc = doc if process_only else doc.get("process", {})
    caps = proc.get("capabilities")
    if isinstance(caps, dict):
        _strip(caps)
        tmp = path + ".proxylab-tmp"
        with open(tmp, "w") as fh:
            json.dump(doc, fh)
        os.replace(tmp, path)


def main() -> None:
    args = sys.argv[1:]
    if "create" in args or "run" in args:
        bundle = _opt(args, "--bundle", "-b") or os.getcwd()
        _rewrite(os.path.join(bundle, "config.json"), process_only=False)
    elif "exec" in args:
        process = _opt(args, "--process", "-p")
        if process:
            _rewrite(process, process_only=True)
    os.execv(REAL_RUNC, [REAL_RUNC, *args])  # noqa: S606 - exec the real runtime, unchanged args


main()
