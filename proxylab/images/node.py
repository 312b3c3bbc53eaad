"""Assembling the kind node image: node base + Kubernetes binaries + preloaded images.

This is what `kind build node-image` does, done by hand, because kind's own build always
resolves etcd/CoreDNS/pause/kindnetd tags at a registry (research/offline-kind.md 1.3). The
preloaded images carry the `io.cri-containerd.pinned` label, so kubelet never garbage-collects
them, and every manifest uses IfNotPresent, so nothing is ever pulled at cluster creation.
"""

from __future__ import annotations

from pathlib import Path

from ..docker import LABEL
from ..errors import BuildFailed
from ..paths import cache_dir
from ..shell import run
from .dockerbuild import KEY_LABEL


def _exec(cid: str, script: str, what: str) -> str:
    return run(["docker", "exec", cid, "bash", "-ec", script], timeout=900, hint=what).stdout


def assemble(*, node_base: str, k8s_bin: Path, version: str, images: list[str], ref: str, key: str) -> None:
    """Create ``ref`` from ``node_base`` with kubeadm/kubelet/kubectl and ``images`` preloaded."""
    tar_dir = cache_dir() / "preload"
    tar_dir.mkdir(parents=True, exist_ok=True)
    name = f"proxylab-nodebuild-{key[:8]}"
    run(["docker", "rm", "-f", name], check=False)
    cid = run(["docker", "run", "-d", "--name", name, "--label", f"{LABEL}=build", "--entrypoint=sleep",
               "--security-opt", "seccomp=unconfined", node_base, "infinity"]).stdout.strip()
    try:
        for binary in ("kubeadm", "kubelet", "kubectl"):
            run(["docker", "cp", str(k8s_bin / binary), f"{cid}:/usr/bin/{binary}"])
        _exec(cid, f"echo {version} > /kind/version && mkdir -p /kind/images", "writing /kind/version")
        for image in images:
            tar = tar_dir / (image.replace("/", "_").replace(":", "_") + ".tar")
            run(["docker", "save", "-o", str(tar), image], hint=f"docker save {image}")
            run(["docker", "cp", str(tar), f"{cid}:/kind/images/{tar.name}"])
            tar.unlink()
        listed = _exec(cid, """
            containerd >/var/log/containerd-build.log 2>&1 &
            for i in $(seq 1 100); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
            for t in /kind/images/*.tar; do
              ctr -n k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms \
                  --no-unpack --digests "$t" >/dev/null
            done
            ctr -n k8s.io images ls -q | grep -v '^sha256:' | sort
            pkill containerd
            for i in $(seq 1 50); do pgrep containerd >/dev/null || break; sleep 0.2; done
            rm -rf /kind/images /var/log/containerd-build.log
        """, "importing images into the node's containerd")
        missing = [i for i in images if i not in listed.split()]
        if missing:
            raise BuildFailed(f"images missing from the node's containerd after import: {missing}")
        run(["docker", "commit",
             "--change", 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]',
             "--change", f'LABEL {KEY_LABEL}="{key}"', cid, ref])
    finally:
        run(["docker", "rm", "-f", cid], check=False)
