"""In-pod driver of the compiled load generators: stdlib only, run as ``python3 -c <this file> CMD ...``
in a pod of proxylab's load-generator image (which has python3, wrk and vegeta). Prints one JSON
line prefixed with ``PROXYLAB-FASTGEN``.

Commands:

``wrk URL DURATION_S CONNECTIONS THREADS KEEPALIVE TIMEOUT_S``
    Closed loop at the maximum rate: ``CONNECTIONS`` connections each send the next request as soon
    as the previous answer arrived. ``KEEPALIVE=false`` sends ``Connection: close``, so every
    request opens a new TCP connection (wrk reconnects after each answer): the proxy's
    new-flow path (NAT, conntrack) is then on every request.
``vegeta URL DURATION_S RATE KEEPALIVE TIMEOUT_S``
    Open loop at a fixed offered rate (RATE requests/s): requests are sent on schedule whether or
    not earlier ones were answered (vegeta adds workers when all are busy), so a slow answer
    cannot hold back the requests behind it and latency is free of coordinated omission.

Every command also reports what the run cost and what else ran beside it: the generator's own CPU
(``getrusage`` of its process), the machine's CPU split over the run from ``/proc/stat`` (the kind
nodes share the host's kernel, so this is the kernel's system + softirq time for the whole data
path: client, proxy rules, backends), and the load average before and after.

It also reports the client's own TCP state: the sockets in TIME_WAIT in the pod's network namespace
before and after the run (``/proc/net/sockstat``, per namespace) and the size of its ephemeral port
range. A new-connection run leaves part of its connections in TIME_WAIT on the client for 60 s;
when they hold most of the range, ``connect()`` spends its time searching for a free source port
and the run measures the client, not the path (see loadgen/validity.py).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

MARKER = "PROXYLAB-FASTGEN "
MAX_WORKERS = 500
_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

# wrk's Lua hooks: done() prints wrk's own totals and latency percentiles (microseconds) as JSON.
WRK_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'PROXYLAB-WRK {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def cpu_seconds() -> dict[str, float]:
    """The machine-wide CPU time split (seconds, summed over CPUs) from /proc/stat's first line."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:1 + len(_STAT_FIELDS)]
    tick = os.sysconf("SC_CLK_TCK")
    return {name: int(v) / tick for name, v in zip(_STAT_FIELDS, parts, strict=False)}


def tcp_time_wait() -> int | None:
    """Sockets in TIME_WAIT in this network namespace (the ``tw`` of /proc/net/sockstat's TCP line)."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    fields = line.split()[1:]
                    return int(dict(zip(fields[::2], fields[1::2], strict=False))["tw"])
    except (OSError, KeyError, ValueError):
        return None
    return None


def ephemeral_ports() -> int | None:
    """How many source ports connect() can choose from in this network namespace."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            port_range = f.read()
        with open("/proc/sys/net/ipv4/ip_local_reserved_ports") as f:
            reserved = f.read()
    except OSError:
        return None
    return count_ports(port_range, reserved)


def count_ports(port_range: str, reserved: str) -> int | None:
    """The ports of ``net.ipv4.ip_local_port_range`` ("32768\t60999") less those of
    ``net.ipv4.ip_local_reserved_ports`` ("30000-32767,40000") inside it."""
    try:
        low, high = (int(x) for x in port_range.split()[:2])
        held = 0
        for part in filter(None, reserved.strip().split(",")):
            first, _, last = part.partition("-")
            held += max(min(int(last or first), high) - max(int(first), low) + 1, 0)
    except ValueError:
        return None
    return high - low + 1 - held


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def measured(argv: list[str], timeout_s: float) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    """Run ``argv`` and return it with what it cost: its CPU, the machine's CPU split, wall time."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    tw0, cpu0, load0, t0 = tcp_time_wait(), cpu_seconds(), loadavg(), time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    wall = time.monotonic() - t0
    cpu1, load1, tw1 = cpu_seconds(), loadavg(), tcp_time_wait()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = ru1.ru_utime - ru0.ru_utime, ru1.ru_stime - ru0.ru_stime
    cost: dict[str, object] = {
        "wall_s": round(wall, 3), "gen_user_s": round(user, 3), "gen_sys_s": round(system, 3),
        "gen_cpu_s": round(user + system, 3), "gen_cores": round((user + system) / wall, 3) if wall else None,
        "host_cpu_s": {k: round(cpu1[k] - cpu0[k], 3) for k in _STAT_FIELDS}, "ncpu": os.cpu_count(),
        "loadavg_before": load0, "loadavg_after": load1,
        "client_time_wait_before": tw0, "client_time_wait_after": tw1, "ephemeral_ports": ephemeral_ports(),
    }
    return proc, cost


def run_wrk(url: str, duration: str, conns: str, threads: str, keepalive: str, timeout: str) -> dict[str, object]:
    fd, script = tempfile.mkstemp(suffix=".lua")
    with os.fdopen(fd, "w") as f:
        f.write(WRK_LUA)
    argv = ["wrk", "-t", threads, "-c", conns, "-d", f"{duration}s", "--timeout", f"{timeout}s", "-s", script]
    if keepalive != "true":
        argv += ["-H", "Connection: close"]
    proc, cost = measured([*argv, url], float(duration) + 60)
    os.unlink(script)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PROXYLAB-WRK ")), None)
    out: dict[str, object] = {"tool": "wrk", "argv": [*argv, url], "exit": proc.returncode, **cost}
    if line is None:
        out["error"] = f"wrk printed no summary (exit {proc.returncode}): {(proc.stderr or proc.stdout)[-600:]}"
        return out
    w = json.loads(line[len("PROXYLAB-WRK "):])
    out.update(requests=w["requests"], duration_s=w["duration_us"] / 1e6,
               errors={k: w[k] for k in ("connect", "read", "write", "status", "timeout") if w[k]},
               latency_ms={"p50": w["p50_us"] / 1000, "p90": w["p90_us"] / 1000, "p99": w["p99_us"] / 1000,
                           "max": w["max_us"] / 1000, "mean": w["mean_us"] / 1000})
    return out


def run_vegeta(url: str, duration: str, rate: str, keepalive: str, timeout: str) -> dict[str, object]:
    fd, results = tempfile.mkstemp(suffix=".bin")
    os.close(fd)
    # At most MAX_WORKERS requests in flight: enough for any rate this machine's path answers in
    # time (10k/s x 50 ms), and where answers come slower vegeta falls behind its schedule (then
    # the run says so) instead of opening thousands of connections that would flood the backend.
    argv = ["vegeta", "attack", f"-rate={rate}/1s", f"-duration={duration}s", f"-timeout={timeout}s",
            f"-keepalive={'true' if keepalive == 'true' else 'false'}", f"-max-workers={MAX_WORKERS}",
            f"-output={results}"]
    # The attack reads its one target from stdin; its CPU alone is measured (the report comes after).
    proc, cost = measured(["sh", "-c", f"echo 'GET {url}' | {' '.join(argv)}"], float(duration) + 60)
    out: dict[str, object] = {"tool": "vegeta", "argv": argv, "exit": proc.returncode, **cost}
    if proc.returncode != 0:
        out["error"] = f"vegeta attack exited {proc.returncode}: {proc.stderr[-600:]}"
        os.unlink(results)
        return out
    rep = subprocess.run(["vegeta", "report", "-type=json", results], capture_output=True, text=True, timeout=120,
                         check=False)
    os.unlink(results)
    if rep.returncode != 0:
        out["error"] = f"vegeta report exited {rep.returncode}: {rep.stderr[-600:]}"
        return out
    r = json.loads(rep.stdout)
    lat = r["latencies"]
    codes = {str(k): int(v) for k, v in (r.get("status_codes") or {}).items()}
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    out.update(requests=int(r["requests"]), ok=ok, duration_s=r["duration"] / 1e9, offered_rps=r["rate"],
               achieved_rps=r["throughput"], status_codes=codes, error_texts=sorted(set(r.get("errors") or []))[:10],
               errors={"failed": int(r["requests"]) - ok} if int(r["requests"]) - ok else {},
               latency_ms={"p50": lat["50th"] / 1e6, "p90": lat["90th"] / 1e6, "p99": lat["99th"] / 1e6,
                           "max": lat["max"] / 1e6, "mean": lat["mean"] / 1e6})
    return out


def main(argv: list[str]) -> int:
    cmd, args = argv[0], argv[1:]
    if cmd == "wrk":
        out = run_wrk(*args)
    elif cmd == "vegeta":
        out = run_vegeta(*args)
    else:
        print(f"unknown command {cmd!r}: use wrk or vegeta", file=sys.stderr)
        return 2
    print(MARKER + json.dumps(out, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
