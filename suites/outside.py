"""The vantage outside the cluster: containers with the echo image on the kind docker network,
beside the nodes but none of them (testcontainers). A test reaches the cluster from there the
way a client in the same L2 network as the nodes would: node IPs and NodePorts, not ClusterIPs."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

from testcontainers.core.container import DockerContainer

from proxylab import docker as docker_mod
from proxylab.existing import docker_network
from suites.namespaces import Namespace


def _last_json(text: str, what: str) -> dict[str, Any]:
    lines = text.strip().splitlines()
    if not lines:
        raise AssertionError(f"{what} printed nothing")
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def outside(image: str, *args: str) -> dict[str, Any]:
    """Run `/echo ARGS` in a throw-away container on the kind network, outside every node."""
    container = (DockerContainer(image).with_command(" ".join(args))
                 .with_kwargs(network=docker_network(), labels={docker_mod.LABEL: "outside-probe"}))
    container.start()
    try:
        wrapped = container.get_wrapped_container()
        wrapped.wait(timeout=60)
        return _last_json(wrapped.logs().decode(), f"/echo {' '.join(args)} outside the cluster")
    finally:
        container.stop()


class Outside:
    """One long-lived client container outside the cluster (the echo image idling as a server),
    so a test can run many probes from the same source address and knows that address (the
    client IP a backend should see when the proxy preserves it). Use as a context manager."""

    def __init__(self, image: str, name: str = "outside-client") -> None:
        self._container = (DockerContainer(image).with_command("serve")
                           .with_kwargs(network=docker_network(), labels={docker_mod.LABEL: name}))
        self.ip = ""

    def __enter__(self) -> Outside:
        self._container.start()
        wrapped = self._container.get_wrapped_container()
        wrapped.reload()
        network = docker_network()
        self.ip = str(wrapped.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])
        if not self.ip:
            self._container.stop()
            raise AssertionError(f"the outside container got no IP on the docker network {network}; "
                                 f"check `docker network inspect {network}`")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._container.stop()

    def probe(self, *args: str) -> dict[str, Any]:
        """Run `/echo ARGS` in the container; its JSON answer."""
        result = self._container.exec(["/echo", *args])
        text = result.output.decode(errors="replace")
        if result.exit_code != 0:
            raise AssertionError(f"/echo {' '.join(args)} outside the cluster exited {result.exit_code}: {text[-300:]}")
        return _last_json(text, f"/echo {' '.join(args)} outside the cluster")


def node_ips(namespace: Namespace) -> dict[str, str]:
    """Node name -> its InternalIP (its address on the kind docker network)."""
    return {n.metadata.name: next(a.address for a in n.status.addresses if a.type == "InternalIP")
            for n in namespace.core().list_node().items}
