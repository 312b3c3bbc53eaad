"""`proxylab registry up|down|push`: a local image registry for ``--image-registry``.

The registry is proxylab/registry (the CNCF distribution registry, ``proxylab images build``
builds it from the Go module proxy or pulls the official image), run the way kind documents local
registries: a container on the clusters' docker network, its port published on 127.0.0.1 of the
host only. The host pushes to ``localhost:PORT``; inside a node "localhost" is the node itself, so
each node's containerd gets ``/etc/containerd/certs.d/localhost:PORT/hosts.toml`` that sends
pulls of ``localhost:PORT/...`` to the registry container by name over the docker network. One
reference then works from both ends, and a cluster pulls proxylab's images exactly as a real
cluster pulls from its own registry.

The container carries proxylab's label, so the last ``cluster down`` removes it with the network.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from . import docker
from .cluster import NETWORK
from .constants import DOCKER_PULL_TIMEOUT_S
from .errors import ProxylabError
from .images.catalog import Catalog
from .shell import run
from .versions import load_pins
from .wait import wait_for

CONTAINER = "proxylab-registry"
PORT = 5001  # on 127.0.0.1 of the host (kind's example uses 5001: 5000 is often taken)
CONTAINER_PORT = 5000
CERTS_DIR = "/etc/containerd/certs.d"  # containerd's config_path (set in kind-config.yaml.j2)


class RegistryError(ProxylabError):
    """The local registry cannot be started, reached or configured; the message says what to do."""


def address(port: int = PORT) -> str:
    """The registry as the host and the nodes name it (the --image-registry value)."""
    return f"localhost:{port}"


def hosts_toml(container: str = CONTAINER, container_port: int = CONTAINER_PORT) -> str:
    """containerd's hosts.toml for ``localhost:PORT``: pull and resolve through the registry
    container over the docker network, plain HTTP (it never leaves the machine)."""
    return (f"# Written by proxylab (proxylab/registry.py): this registry is {container} on the docker network.\n"
            f'[host."http://{container}:{container_port}"]\n'
            '  capabilities = ["pull", "resolve"]\n')


def hosts_path(registry_host: str) -> str:
    """Where a node's containerd looks for the hosts.toml of ``registry_host`` (host:port)."""
    return f"{CERTS_DIR}/{registry_host}/hosts.toml"


def _running(name: str = CONTAINER) -> bool:
    found = docker.inspect("container", name)
    return bool(found) and bool(found[0].get("State", {}).get("Running"))


def _answers(port: int) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=3) as resp:
            return resp.status == 200, f"HTTP {resp.status}"
    except (urllib.error.URLError, OSError) as exc:
        return False, str(exc)


def up(port: int = PORT) -> str:
    """Start the registry (idempotent); returns its address for ``--image-registry``."""
    docker.require_engine()
    image = Catalog(load_pins()).registry_image
    if not docker.image_exists(image):
        raise RegistryError(f"image {image} not found; run `proxylab images build` (step image-registry, "
                            "pull-registry on the pull path)")
    if not docker.inspect("network", NETWORK):
        raise RegistryError(f"no docker network {NETWORK!r}: it is made with the first cluster; run "
                            "`proxylab cluster up --mode MODE` first, then `proxylab registry up`")
    if docker.inspect("container", CONTAINER) and not _running():
        run(["docker", "rm", "-f", CONTAINER], check=False)
    if not _running():
        run(["docker", "run", "-d", "--name", CONTAINER, "--network", NETWORK,
             "-p", f"127.0.0.1:{port}:{CONTAINER_PORT}", "--label", f"{docker.LABEL}=registry",
             "-e", "OTEL_TRACES_EXPORTER=none", image],
            hint=f"is 127.0.0.1:{port} taken? `proxylab registry up --port N` picks another port")
    wait_for(lambda: _answers(port), timeout=30, what=f"registry {CONTAINER} on 127.0.0.1:{port}")
    return address(port)


def down() -> list[str]:
    """Remove the registry container and its storage (the pushed images)."""
    if not docker.inspect("container", CONTAINER):
        return ["no registry container"]
    run(["docker", "rm", "-f", "-v", CONTAINER])
    return [f"removed registry container {CONTAINER}"]


def _config_path_set(node: str) -> bool:
    dump = run(["docker", "exec", node, "containerd", "config", "dump"], check=False).stdout
    return f"config_path = '{CERTS_DIR}'" in dump or f'config_path = "{CERTS_DIR}"' in dump


def connect(nodes: list[str], port: int = PORT) -> list[str]:
    """Point every node's containerd at the registry (no restart: containerd reads hosts.toml on
    each pull). Refuses nodes whose containerd has no config_path (clusters made before proxylab
    set it: recreate them)."""
    host = address(port)
    lines = []
    for node in nodes:
        if not _config_path_set(node):
            raise RegistryError(f"containerd on {node} has no registry config_path {CERTS_DIR}, so it ignores "
                                "hosts.toml; recreate the cluster with this proxylab (`cluster down`, `cluster up`)")
        path = hosts_path(host)
        run(["docker", "exec", node, "mkdir", "-p", path.rsplit("/", 1)[0]])
        run(["docker", "exec", "-i", node, "cp", "/dev/stdin", path], input=hosts_toml())
        lines.append(f"{node}: {path}")
    return lines


def local_port(registry: str) -> int | None:
    """The host port when ``registry`` names a registry on this host's loopback (``localhost:N``,
    ``127.0.0.1:N``, optionally with a path), else None."""
    host, _, rest = registry.partition("/")[0].partition(":")
    return int(rest) if host in ("localhost", "127.0.0.1") and rest.isdigit() else None


def published_port() -> int | None:
    """The host port of the running registry container, None when it does not run."""
    found = docker.inspect("container", CONTAINER)
    if not found or not found[0].get("State", {}).get("Running"):
        return None
    bindings = (found[0].get("NetworkSettings", {}).get("Ports") or {}).get(f"{CONTAINER_PORT}/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None


def connect_if_local(registry: str, nodes: list[str]) -> bool:
    """Point ``nodes`` at proxylab's own registry container when ``registry`` is it (a session's new
    cluster gets its hosts.toml this way); False for any other registry, which the nodes reach as is."""
    port = local_port(registry)
    if port is None or port != published_port():
        return False
    connect(nodes, port)
    return True


@dataclass(frozen=True)
class Push:
    local: str
    remote: str
    seconds: float


def push_image(local: str, remote: str, registry: str) -> Push:
    """docker tag + docker push of the local image ``local`` as ``remote`` (in ``registry``)."""
    if not docker.image_exists(local):
        raise RegistryError(f"image {local} not found; run `proxylab images build` first")
    t0 = time.monotonic()
    run(["docker", "tag", local, remote])
    run(["docker", "push", "-q", remote], timeout=DOCKER_PULL_TIMEOUT_S,
        hint=f"could not push to {registry}: `docker login` to it, or for the local one `proxylab registry up`")
    return Push(local, remote, round(time.monotonic() - t0, 2))


def push(catalog: Catalog) -> list[Push]:
    """Push proxylab's own images to ``catalog.registry``."""
    if not catalog.registry:
        raise RegistryError("no registry to push to; pass --image-registry REGISTRY")
    return [push_image(local, remote, catalog.registry) for local, remote in catalog.pushes()]
