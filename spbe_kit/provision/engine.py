"""The Pulumi engine for the Automation API: built or found by spbe_kit.engine, used offline."""

from __future__ import annotations

from typing import Any

from spbe_kit.engine.toolchain import ensure_engine, pulumi_command, resolve
from spbe_kit.provision.progress import Progress


def engine_command(progress: Progress, build: bool = True) -> tuple[Any, dict[str, str], str]:
    """(PulumiCommand, environment, PULUMI_HOME); builds what is missing first unless ``build`` is False
    (read-only commands never start a long build: they raise ToolBuildError instead)."""
    paths = ensure_engine(progress) if build else resolve()
    return pulumi_command(paths), paths.env(), str(paths.pulumi_home)
