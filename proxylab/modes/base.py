"""What a proxy mode is: the interface every mode module implements, and the registry of modes.

A mode answers every question the rest of proxylab has about it (host requirements, its kind
config, how to install and verify it, how to observe it, what it programmed, how it knowingly
differs, which images it needs); nothing outside ``proxylab/modes/`` tests which mode it is.
Where the cluster runs (kind on this host's Docker, :mod:`proxylab.cluster`) is not a mode's
business: it hands the mode an :class:`InstallContext` with the nodes and a way to load images.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..constants import PROXY_READY_TIMEOUT_S
from ..errors import UnknownMode
from ..kernel import options_support

if TYPE_CHECKING:
    from ..cni import NodeNet
    from ..images.catalog import Catalog
    from ..images.steps import Step
    from ..versions import Pins

# key -> (Prometheus histogram name, label substring or None); the first key is the proxy's
# "programmed the dataplane" histogram.
Histograms = dict[str, tuple[str, str | None]]


@dataclass(frozen=True)
class KindSettings:
    """A mode's part of the kind config (proxylab/templates/kind-config.yaml.j2)."""

    kube_proxy_mode: str  # kind's networking.kubeProxyMode ("none": no kube-proxy)
    # Extra KubeProxyConfiguration fields, merged into the patch after metricsBindAddress.
    kube_proxy_config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstallContext:
    """What a mode's install step gets from where the cluster runs (today: kind on local Docker)."""

    name: str
    kubeconfig: Path
    cluster_dir: Path
    nodes: list[NodeNet]
    pins: Pins
    load_image: Callable[[str], None]  # make a local image available on every node
    t0: float  # monotonic start of `cluster up`, for progress lines


@dataclass(frozen=True)
class ObserverSpec:
    """Where the performance suite finds the proxy on every node."""

    container: str  # the proxy's container name (crictl stats label io.kubernetes.container.name)
    metrics_port: int  # its Prometheus endpoint on the node's own network
    histograms: Histograms


@dataclass(frozen=True)
class ProxyPods:
    """The proxy's pods: one per node, run by a DaemonSet (kube-proxy, or the replacement's agent)."""

    namespace: str
    daemonset: str
    selector: str  # label selector of its pods


@dataclass(frozen=True)
class ProxyRestart:
    """Proxy pods deleted on purpose (:meth:`ProxyMode.restart_proxy`), to wait for their successors."""

    pods: ProxyPods
    deleted_at: float  # wall-clock epoch seconds, just before the delete calls
    old: Mapping[str, str]  # node -> uid of the deleted pod


@dataclass(frozen=True)
class OfflineImageContext:
    """What an offline (no registry) image build step of a mode can build on."""

    pins: Pins
    catalog: Catalog
    go: str
    base_key: str  # cache key of the Debian base image
    cni_plugins_out: Path
    cni_plugins_key: str


class ProxyMode(abc.ABC):
    """One proxy mode. Instances are singletons registered with :func:`register`; compare with ``is``.

    Class attributes a mode sets (plain facts); methods a mode implements (actions)."""

    value: str  # the name on the command line, in results paths and tox env names
    host_requirement: str  # one sentence for `proxylab modes` / doctor
    kernel_options: tuple[str, ...] = ()  # CONFIG_* the host kernel must have (y, or m where loadable)
    implemented: bool = True  # False hides it from the default run and the testable tox envs
    # False: a configured variant of another mode, run by the nightly job and `proxylab run` only, so
    # the README's test command (CI) stays well inside its time limit.
    in_test_command: bool = True
    uses_kube_proxy: bool = True  # kube-proxy runs (and REJECTs connections to a Service without endpoints)
    cni: str = "proxylab ptp + host-local (proxylab/cni.py)"
    cni_enforces_network_policy: bool = False
    # test function name (parameters stripped) -> why this mode genuinely differs from kube-proxy there;
    # such a test runs as a strict expected failure (suites/conformance/known_differences.py).
    known_differences: Mapping[str, str] = MappingProxyType({})

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"<proxy mode {self.value}>"

    # A mode is a registered singleton compared with ``is``: copies (dataclasses.asdict deep-copies
    # every field) and pickles must give the same object back.
    def __copy__(self) -> ProxyMode:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ProxyMode:
        return self

    def __reduce__(self) -> tuple[Callable[[str], ProxyMode], tuple[str]]:
        return ProxyMode.parse, (self.value,)

    @classmethod
    def parse(cls, name: str) -> ProxyMode:
        """The registered mode called ``name`` (case and surrounding blanks ignored), or UnknownMode."""
        key = name.strip().lower()
        if key in _REGISTRY:
            return _REGISTRY[key]
        raise UnknownMode(f"unknown proxy mode {name!r}; valid modes: {', '.join(_REGISTRY)}")

    # --- host ---
    def host_support(self) -> tuple[bool, str]:
        """Whether this host's kernel can run the mode, with the reason when it cannot."""
        return options_support(self.value, self.kernel_options)

    def prepare_host(self) -> None:
        """Load what the mode needs into the host kernel (kind nodes share it). Default: nothing."""
        return None

    # --- cluster ---
    @abc.abstractmethod
    def kind_settings(self) -> KindSettings: ...

    @abc.abstractmethod
    def install(self, ctx: InstallContext) -> dict[str, Any]:
        """Make pod networking and the proxy work on fresh nodes; returns features for results.json."""

    @abc.abstractmethod
    def verify(self, kubeconfig: Path, nodes: list[str]) -> dict[str, Any]:
        """Wait for the proxy, then prove from the nodes that this mode (and no other) is in effect,
        or raise ClusterError. Returns evidence/features to record ({}: nothing to record)."""

    # --- observation (performance suite) ---
    @abc.abstractmethod
    def observer(self) -> ObserverSpec: ...

    @abc.abstractmethod
    def proxy_version(self, pins: Pins) -> str:
        """The proxy and its version, for results.json's versions["proxy"]."""

    @abc.abstractmethod
    def dataplane_counts(self, node: str, api: Any) -> dict[str, int]:
        """The size of what the proxy programmed on ``node`` (see proxylab/perf/dataplane.py)."""

    @abc.abstractmethod
    def dataplane_entries(self, node: str, api: Any, ip: str, port: int | None = None) -> list[str]:
        """What the proxy programmed on ``node`` for destination ``ip`` (and ``port``), as lines of
        its own listing (see proxylab/perf/dataplane.py): [] once a Service (or that port of it) is
        gone everywhere in the proxy's dataplane on that node."""

    def match_order(self, node: str) -> list[str] | None:
        """The Services (``"ip:port"``, ``""`` for a rule that is no Service) in the order the first
        packet of a connection on ``node`` is compared against them, when the proxy looks Services
        up in a list (kube-proxy iptables: the KUBE-SERVICES chain); then the cost of a connection
        depends on where its Service sits. None (the default) for hash lookups, where it does not."""
        return None

    def sweep_limit(self) -> tuple[int | None, str]:
        """The largest number of one-backend Services the mode's tables hold as proxylab sets it up."""
        return None, "no table limit below the sweep's maximum"

    # --- restarts (suites/production/test_proxy_restart.py) ---
    @abc.abstractmethod
    def proxy_pods(self) -> ProxyPods:
        """Where the mode's proxy runs as pods."""

    def restart_proxy(self, api: Any, nodes: list[str]) -> ProxyRestart:
        """Delete the proxy's pod on each of ``nodes`` (its DaemonSet starts a new one)."""
        from .restart import delete_proxy_pods

        return delete_proxy_pods(api, self.proxy_pods(), nodes)

    def wait_proxy_resynced(self, api: Any, restart: ProxyRestart,
                            timeout: float = PROXY_READY_TIMEOUT_S) -> dict[str, float]:
        """Wait until the new proxy on every restarted node has programmed the dataplane again;
        node -> wall-clock epoch seconds at which it had (see :meth:`synced_at`)."""
        from .restart import wait_resynced

        return wait_resynced(api, restart, self.synced_at, timeout)

    def synced_at(self, node: str, ready_at: float, since: float) -> float | None:
        """When the new proxy on ``node`` (its pod Ready since ``ready_at``, epoch s) had programmed
        the dataplane with the cluster's state after ``since``, or None while it has not.
        Default: its pod's readiness (the mode's readiness probe says it is in charge)."""
        return ready_at

    # --- switching a running cluster in place (proxylab/switchmode.py) ---
    def switch_refusal(self, target: ProxyMode) -> str | None:
        """Why a cluster running this mode cannot be switched in place to ``target`` (None: it can)."""
        return f"a cluster running {self.value} cannot be switched in place; create one with " \
               f"`proxylab cluster up --mode {target.value}`"

    def reconfigure_proxy(self, api: Any, target: ProxyMode) -> None:
        """Change the running proxy's configuration to ``target`` (its pods pick it up when they
        restart). Only called when :meth:`switch_refusal` has no objection."""
        raise NotImplementedError(self.switch_refusal(target))

    def rules_present(self, node: str) -> tuple[bool, str]:
        """Whether this mode's rules exist in ``node``'s kernel (e.g. left over after a switch), and what was seen."""
        return False, f"{self.value} leaves no rules of its own to look for"

    # --- images ---
    def offline_image_steps(self, ctx: OfflineImageContext) -> list[Step]:
        """Image build steps beyond the node image (which preloads kube-proxy). Default: none."""
        return []

    def pull_image_steps(self, pins: Pins, catalog: Catalog, go: str) -> list[Step]:
        return []


_REGISTRY: dict[str, ProxyMode] = {}


def register(mode: ProxyMode) -> ProxyMode:
    """Add ``mode`` to the registry (in import order: the order of `proxylab modes` and runs)."""
    if mode.value in _REGISTRY:
        raise ValueError(f"proxy mode {mode.value!r} registered twice")
    if not mode.value or mode.value != mode.value.strip().lower() or "," in mode.value:
        raise ValueError(f"proxy mode name {mode.value!r} must be lowercase, without blanks or commas")
    _REGISTRY[mode.value] = mode
    return mode


def all_modes() -> tuple[ProxyMode, ...]:
    """Every registered mode, in registration order."""
    return tuple(_REGISTRY.values())
