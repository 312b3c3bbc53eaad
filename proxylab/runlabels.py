"""The run label on everything proxylab creates in a cluster, and finding it again.

Every object the harness creates (its namespaces, ServiceFixtures, the operator's namespace and
its cluster-scoped objects, load-generator pods) carries ``proxylab.io/run-id=<run id>``, so
`proxylab cleanup` can remove exactly that from a cluster that is not proxylab's, also after a
``kill -9`` of the run: it deletes by label, never by name, and never touches an object without it.

The run id reaches every creator through the environment (PROXYLAB_RUN_ID, set by the pytest
session), so no signature between the test and the manifest has to carry it.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

RUN_ID_LABEL = "proxylab.io/run-id"
RUN_ID_ENV = "PROXYLAB_RUN_ID"
_LABEL_VALUE_RE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)")
UNSET = "unset"  # the label value of objects created outside a session (e.g. `proxylab cluster up`)


def label_value(run_id: str) -> str:
    """``run_id`` as a label value: itself when it is one (at most 63 characters, alphanumeric at both
    ends), else ``h-`` and a digest of it, so every run id maps to one stable, valid value."""
    if _LABEL_VALUE_RE.fullmatch(run_id):
        return run_id
    return "h-" + hashlib.sha256(run_id.encode()).hexdigest()[:16]


def current_run_id() -> str:
    return os.environ.get(RUN_ID_ENV) or UNSET


def labels(run_id: str | None = None) -> dict[str, str]:
    """The labels of an object created by run ``run_id`` (default: the current session's)."""
    return {RUN_ID_LABEL: label_value(run_id or current_run_id())}


def add(obj: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    """``obj`` (a manifest) with the run label merged into its metadata.labels (in place, returned)."""
    meta = obj.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), **labels(run_id)}
    return obj


def selector(run_id: str | None) -> str:
    """The label selector of what proxylab created: of run ``run_id``, or of any run (None)."""
    return RUN_ID_LABEL if run_id is None else f"{RUN_ID_LABEL}={label_value(run_id)}"


def matches(obj_labels: dict[str, str] | None, run_id: str | None) -> bool:
    """Whether an object with ``obj_labels`` is proxylab's (of run ``run_id`` when given): the same
    decision as ``selector``, for checking what a list returned (pure; unit-tested)."""
    if not obj_labels or RUN_ID_LABEL not in obj_labels:
        return False
    return run_id is None or obj_labels[RUN_ID_LABEL] == label_value(run_id)
