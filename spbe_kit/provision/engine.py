"""The Pulumi engine for the Automation API: built or found by spbe_kit.engine, used offline."""

from __future__ import annotations

from typing import Any

from spbe_kit.engine.toolchain import ensure_engine, pulumi_command
from spbe_kit.provision.progress import Progress


def engine_command(progress: Progress) -> tuple[Any, dict[str, str], str]:
    """(PulumiCommand, environment, PULUMI_HOME), building what is missing first."""
    paths = ensure_engine(progress)
    return pulumi_command(paths), paths.env(), str(paths.pulumi_home)
