from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

from proxylab.cni import NodeNet, conflist, route_commands


def test_conflist_uses_node_pod_cidr_without_masquerade() -> None:
    doc = json.loads(conflist("10.244.1.0/24"))
    ptp = doc["plugins"][0]
    assert ptp["type"] == "ptp" and ptp["ipMasq"] is False
    assert ptp["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]]


def test_routes_point_at_every_other_node() -> None:
    nodes = [NodeNet("a", "172.18.0.2", "10.244.0.0/24"), NodeNet("b", "172.18.0.3", "10.244.1.0/24"),
             NodeNet("c", "172.18.0.4", "10.244.2.0/24")]
    cmds = route_commands(nodes[0], nodes)
    assert cmds == [["ip", "route", "replace", "10.244.1.0/24", "via", "172.18.0.3"],
                    ["ip", "route", "replace", "10.244.2.0/24", "via", "172.18.0.4"]]


def _wrapper(tmp_path: Path) -> Path:
    text = resources.files("proxylab.data").joinpath("runc-wrapper.py").read_text()
    path = tmp_path / "wrapper.py"
    path.write_text(text.replace("@REAL_RUNC@", "/bin/true"))
    return path


def test_runtime_wrapper_drops_sys_resource_from_bundle(tmp_path: Path) -> None:
    caps = ["CAP_NET_ADMIN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"]
    spec = {"process": {"capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted")}}}
    (tmp_path / "config.json").write_text(json.dumps(spec))
    subprocess.run([sys.executable, str(_wrapper(tmp_path)), "--root", "/x", "create", "--bundle", str(tmp_path), "id"],
                   check=True)
    got = json.loads((tmp_path / "config.json").read_text())["process"]["capabilities"]
    assert all(v == ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"] for v in got.values())


def test_runtime_wrapper_rewrites_exec_process_file(tmp_path: Path) -> None:
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"capabilities": {"bounding": ["CAP_SYS_RESOURCE", "CAP_KILL"]}}))
    subprocess.run([sys.executable, str(_wrapper(tmp_path)), "exec", "--process", str(proc), "id"], check=True)
    assert json.loads(proc.read_text())["capabilities"]["bounding"] == ["CAP_KILL"]
