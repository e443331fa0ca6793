"""Pinned versions of the Pulumi engine pieces, checked against the installed Python packages.

Two Go binaries make the engine: the CLI and the kubernetes provider. There is no language
host binary: tenant programs run as Automation API *inline* programs, whose language
runtime the Python SDK serves in-process (the CLI is handed ``--client=ADDR``).

Why these pins:

* **CLI v3.274.1, SDK ``pulumi==3.272.0``.** The Go module proxy serves ``pkg/v3`` at
  v3.274.x but not at 3.272.0, and PyPI's newest ``pulumi`` is 3.272.0. A CLI newer than the
  SDK is supported (the SDK only asks for a minimum CLI version).
* **Provider 4.25.0.** The proxy refuses every tagged ``pulumi-kubernetes/provider/v4``
  version but serves the pseudo-version ``v4.0.0-20260115033456-f47bc2d6f199``, which is
  exactly the commit tagged v4.25.0. It is built from that commit, stamped 4.25.0 and
  installed as plugin v4.25.0, which is what the Python SDK ``pulumi-kubernetes==4.25.0``
  asks the engine for. A provider at another version than its SDK can misread resources.

The Python pins are asserted against ``importlib.metadata`` before anything is built or
used, so bumping one without the other fails loudly instead of running mismatched pieces.
"""

from __future__ import annotations

import importlib.metadata

from spbe_kit.errors import ToolBuildError

#: The Python SDK (``pulumi`` on PyPI) that runs tenant programs in-process.
PULUMI_SDK_VERSION = "3.272.0"
#: The Pulumi CLI, built from ``github.com/pulumi/pulumi/pkg/v3``.
PULUMI_CLI_VERSION = "3.274.1"
#: pulumi-kubernetes: provider ``pulumi-resource-kubernetes`` and SDK ``pulumi-kubernetes``.
KUBERNETES_PROVIDER_VERSION = "4.25.0"
#: The module version the provider is built from: the v4.25.0 release commit (see above).
KUBERNETES_PROVIDER_MODULE_VERSION = "v4.0.0-20260115033456-f47bc2d6f199"

#: Python distribution -> the version its Go counterpart is pinned to.
PINS: dict[str, str] = {
    "pulumi": PULUMI_SDK_VERSION,
    "pulumi-kubernetes": KUBERNETES_PROVIDER_VERSION,
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
