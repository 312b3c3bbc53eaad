"""Unit-test setup shared by the fixture-spec tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from operators.fixture.spec import DEFAULT_IMAGE_ENV
from proxylab.images.catalog import Catalog
from proxylab.versions import load_pins


@pytest.fixture(scope="session", autouse=True)
def operator_default_image() -> Iterator[None]:
    """The default backend image, set as the operator's Deployment sets it in a cluster
    (session-scoped: hypothesis refuses function-scoped fixtures around @given tests)."""
    before = os.environ.get(DEFAULT_IMAGE_ENV)
    os.environ[DEFAULT_IMAGE_ENV] = Catalog(load_pins()).echo
    yield
    if before is None:
        del os.environ[DEFAULT_IMAGE_ENV]
    else:
        os.environ[DEFAULT_IMAGE_ENV] = before
