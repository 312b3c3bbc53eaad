"""Where the upstream specs' agnhost comes from, on clusters proxylab did not create (pure parts)."""

from __future__ import annotations

import pytest
import yaml

from proxylab.errors import ProxylabError
from proxylab.upstream import agnhost


def test_registry_reference_keeps_the_image_path_below_the_repo_list_prefix() -> None:
    ref = agnhost.registry_reference("registry.k8s.io/e2e-test-images/agnhost:2.56", "localhost:5001/team")
    assert ref == "localhost:5001/team/e2e-test-images/agnhost:2.56"
    # e2e.test joins promoterE2eRegistry and "agnhost:<tag>": the two must give the pushed name.
    registry = yaml.safe_load(agnhost.repo_list("localhost:5001/team"))["promoterE2eRegistry"]
    assert f"{registry}/agnhost:2.56" == ref


def test_an_image_outside_the_e2e_registry_is_refused() -> None:
    with pytest.raises(ProxylabError, match="cannot redirect"):
        agnhost.registry_reference("docker.io/library/busybox:1", "localhost:5001")
