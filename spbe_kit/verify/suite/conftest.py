"""The verification suite's wiring: one target per component, read from $SPBE_VERIFY_TARGETS.

A component the tenant does not have (or that has no reachable host) is not collected at all, so
nothing is ever reported as passing without having been checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import testinfra

from spbe_kit.verify.targets import load_targets

_TARGETS = None
_HOSTS: dict[str, object] = {}


def _targets():
    global _TARGETS
    if _TARGETS is None:
        _TARGETS = load_targets(Path(os.environ["SPBE_VERIFY_TARGETS"]))
    return _TARGETS


def pytest_ignore_collect(collection_path, config):
    name = collection_path.name
    if name.startswith("test_") and name.endswith(".py"):
        return name[len("test_"):-len(".py")] not in _targets().targets
    return None


@pytest.fixture(scope="module")
def target(request):
    component = request.module.__name__.rsplit(".", 1)[-1][len("test_"):]
    return _targets().targets[component]


@pytest.fixture(scope="module")
def node(target):
    """The testinfra host the component runs on (local:// or kubectl://POD?namespace=NS)."""
    if target.host not in _HOSTS:
        host = testinfra.get_host(target.host)
        probe = host.run("true")  # an unreachable host is an error of every check, not a failed check
        if probe.rc != 0:
            raise RuntimeError(f"cannot run commands on {target.host.split('?')[0]}: "
                               f"{(probe.stderr or probe.stdout).strip()[:200]}")
        _HOSTS[target.host] = host
    return _HOSTS[target.host]


@pytest.fixture(scope="module")
def facts(target):
    return target.facts
