"""The conformance suite's fixtures are shared with the other e2e suites: the per-module
``namespace`` fixture is registered by suites/conftest.py; ``Namespace`` lives in suites/namespaces.py."""

from __future__ import annotations

from suites.namespaces import Namespace

__all__ = ["Namespace"]
