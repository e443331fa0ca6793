"""Pinned versions of the Pulumi engine pieces, checked against the installed Python packages.

The Go binaries (CLI, language host, providers) must match the Python SDKs the project
installs: a provider built at another version than its SDK can reject or misread the
SDK's resources, and the Automation API refuses a CLI older than its own minimum. So the
pins below are asserted against ``importlib.metadata`` before anything is built or used;
bumping ``pulumi`` in pyproject without bumping it here fails loudly instead of silently
running mismatched binaries.
"""

from __future__ import annotations

import importlib.metadata

from spbe_kit.errors import ToolBuildError

#: pulumi (CLI, language host, Python SDK ``pulumi``).
PULUMI_VERSION = "3.272.0"
#: pulumi-kubernetes (provider ``pulumi-resource-kubernetes``, SDK ``pulumi-kubernetes``).
KUBERNETES_PROVIDER_VERSION = "4.34.2"
#: pulumi-random (provider ``pulumi-resource-random``, SDK ``pulumi-random``).
RANDOM_PROVIDER_VERSION = "4.21.4"

#: Python distribution -> the version its Go counterpart is pinned to.
PINS: dict[str, str] = {
    "pulumi": PULUMI_VERSION,
    "pulumi-kubernetes": KUBERNETES_PROVIDER_VERSION,
    "pulumi-random": RANDOM_PROVIDER_VERSION,
}


def installed_version(distribution: str) -> str | None:
    """The installed version of a Python distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_pins() -> None:
    """Raise :class:`ToolBuildError` unless every pinned Python package is installed at its pin."""
    problems: list[str] = []
    for dist, pinned in PINS.items():
        found = installed_version(dist)
        if found is None:
            problems.append(f"{dist} is not installed (expected {pinned})")
        elif found != pinned:
            problems.append(f"{dist} {found} is installed but the engine is pinned to {pinned}")
    if problems:
        raise ToolBuildError(
            "the Pulumi engine pins do not match the installed Python packages: " + "; ".join(problems),
            hint="update the pins in spbe_kit/engine/versions.py together with pyproject.toml, "
            "or reinstall the project (pip install -e .)",
        )
