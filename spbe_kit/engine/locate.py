"""Find the Pulumi engine at the pinned versions; never build it (that is ``spbe engine build``).

The CLI is a ``pulumi`` at the pinned version: the kit's cached build
(``cache_dir()/bin/pulumi-vX.Y.Z/bin/pulumi``), else one on ``PATH`` that prints that version.
The kubernetes provider must be installed as a plugin in the kit's offline ``PULUMI_HOME``
(:mod:`spbe_kit.engine.plugins`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from spbe_kit.engine import plugins
from spbe_kit.engine.versions import KUBERNETES_PROVIDER_VERSION, PULUMI_CLI_VERSION, check_pins
from spbe_kit.errors import ToolBuildError
from spbe_kit.paths import cache_dir

#: plugin name -> version the Python SDKs ask the engine for
PROVIDER_PLUGINS: dict[str, str] = {"kubernetes": KUBERNETES_PROVIDER_VERSION}


def cached_cli() -> Path:
    """Where the kit keeps its build of the CLI (``PulumiCommand(root=)`` runs ``root/bin/pulumi``)."""
    return cache_dir() / "bin" / f"pulumi-v{PULUMI_CLI_VERSION}" / "bin" / "pulumi"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@dataclass(frozen=True)
class EnginePaths:
    """Everything the Automation API needs: the CLI in use and the offline ``PULUMI_HOME``."""

    cli: Path
    providers: dict[str, Path]  # plugin name -> installed binary under pulumi_home
    pulumi_home: Path
    built: tuple[tuple[str, float], ...] = field(default=())  # (tool, seconds) built by the call that made it
    seconds: float = 0.0

    @property
    def cli_root(self) -> Path:
        return self.cli.parent.parent

    def env(self) -> dict[str, str]:
        return engine_env(self)


def find_cli() -> Path | None:
    """Our cached CLI, else a ``pulumi`` on PATH whose version is the pinned one."""
    if _executable(cached_cli()):
        return cached_cli()
    on_path = shutil.which("pulumi")
    # the Automation API runs ROOT/bin/pulumi, so only a CLI that sits in a bin/ directory can be used as is
    if on_path and Path(on_path).parent.name == "bin" and plugins.cli_version(Path(on_path)) == f"v{PULUMI_CLI_VERSION}":
        return Path(on_path)
    return None


def missing_plugins() -> list[str]:
    return [name for name, ver in PROVIDER_PLUGINS.items() if not plugins.plugin_installed(name, ver)]


def paths_for(cli: Path, built: list[tuple[str, float]] | None = None, seconds: float = 0.0) -> EnginePaths:
    providers = {name: plugins.plugin_dir(name, ver) / f"pulumi-resource-{name}" for name, ver in PROVIDER_PLUGINS.items()}
    return EnginePaths(cli, providers, plugins.pulumi_home(), tuple(built or ()), seconds)


def resolve() -> EnginePaths:
    """The engine as it is now, building nothing; raises ToolBuildError naming what is missing."""
    cli = find_cli()
    missing = ([] if cli else ["pulumi"]) + missing_plugins()
    if cli is None or missing:
        raise ToolBuildError(
            "the Pulumi engine is not ready (missing: " + ", ".join(missing) + ")",
            hint="run `spbe engine build` (it builds the missing pieces from Go modules and caches them)",
        )
    return paths_for(cli)


def engine_env(paths: EnginePaths | None = None) -> dict[str, str]:
    """Environment for the Automation API (``LocalWorkspaceOptions(env_vars=...)``), offline."""
    check_pins()
    paths = resolve() if paths is None else paths
    return plugins.offline_env(paths.cli.parent)


def pulumi_command(paths: EnginePaths | None = None):  # -> pulumi.automation.PulumiCommand
    """A ``PulumiCommand`` for our CLI (the default one looks ``pulumi`` up on the process PATH)."""
    from pulumi.automation import PulumiCommand
    from semver import VersionInfo

    paths = resolve() if paths is None else paths
    return PulumiCommand(root=str(paths.cli_root), version=VersionInfo.parse(PULUMI_CLI_VERSION))
