"""loadgen's exceptions, in one place (all are proxylab errors, so the CLI reports them cleanly)."""

from __future__ import annotations

from proxylab.errors import ProxylabError


class LoadgenError(ProxylabError):
    """Base of every loadgen failure."""


class LoadSpecError(LoadgenError):
    """A LoadSpec that cannot run; the message names the field and the allowed values."""


class LoadRunFailed(LoadgenError):
    """The locust master did not produce a result; the message carries the pods' log tails."""
