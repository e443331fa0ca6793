"""The Pulumi engine for the Automation API, as found on this machine (never built from here)."""

from __future__ import annotations

from typing import Any

from spbe_kit.engine.locate import pulumi_command, resolve


def engine_command() -> tuple[Any, dict[str, str], str]:
    """(PulumiCommand, environment, PULUMI_HOME); ToolBuildError naming what is missing."""
    paths = resolve()
    return pulumi_command(paths), paths.env(), str(paths.pulumi_home)
