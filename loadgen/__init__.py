"""Load generation with locust inside the cluster (master + worker pods), driven by the harness.

Public surface: :class:`LoadSpec` (what to run), :func:`run_load` (run it, block, return a
:class:`LoadResult`); :mod:`loadgen.background` starts runs that keep going while the caller
acts (e.g. restarts the proxy) and stop when it says so. locust itself never runs in the calling
process: it monkey-patches the stdlib with gevent on import. The in-pod code lives in
``loadgen/agent/`` and is shipped by ConfigMap.
"""

from __future__ import annotations

from .errors import LoadgenError, LoadRunFailed, LoadSpecError
from .result import LoadResult, Second, WorkerCpu
from .runner import run_load
from .spec import LoadSpec

__all__ = ["LoadResult", "LoadRunFailed", "LoadSpec", "LoadSpecError", "LoadgenError", "Second", "WorkerCpu",
           "run_load"]
