"""Build the Pulumi engine from Go modules at the pinned versions and install it for offline use.

Two pieces, each cached in ``cache_dir()/bin/<tool>-<version>/`` and built only when missing
(logs in ``cache_dir()/logs/build-<tool>-<version>.log``):

==============================  ====================================================  =========
binary                          Go module (version)                                   recipe
==============================  ====================================================  =========
``pulumi`` (in ``bin/``)        ``github.com/pulumi/pulumi/pkg/v3`` (v3.274.1)        wrapper
``pulumi-resource-kubernetes``  ``github.com/pulumi/pulumi-kubernetes/provider/v4``   source
                                (the v4.25.0 release commit, see ``engine.versions``)
==============================  ====================================================  =========

(recipes: :mod:`.gobuild`; per-tool specs: :mod:`.specs`). No language host is needed: tenant
programs are Automation API inline programs, served by the Python SDK in-process. A
``pulumi`` already on ``PATH`` at the pinned version is used instead of building. The
provider is installed into the kit's offline ``PULUMI_HOME`` (:mod:`spbe_kit.engine.plugins`).

Before building anything, every module to build from is fetched, so a module the Go proxy
will not serve fails at once, listing each one with the proxy's own words, rather than after
a long CLI build.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from spbe_kit.devenv.engine import gobuild
from spbe_kit.devenv.engine.gobuild import GoBuild, Progress
from spbe_kit.devenv.engine.specs import CLI, PROVIDERS, target
from spbe_kit.devenv.gotools import fmt_seconds as _fmt
from spbe_kit.engine import plugins
from spbe_kit.engine.locate import EnginePaths, find_cli, paths_for
from spbe_kit.engine.versions import check_pins
from spbe_kit.errors import ToolBuildError
from spbe_kit.paths import cache_dir


def _quiet(_: str) -> None:
    pass


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _preflight(todo: list[GoBuild], progress: Progress) -> list[tuple[GoBuild, dict]]:
    """Fetch every module first; raise one error naming each module that cannot be fetched."""
    fetched: list[tuple[GoBuild, dict]] = []
    errors: list[str] = []
    for build in todo:
        progress(f"fetching {build.module}@{build.fetch_version} ...")
        try:
            fetched.append((build, gobuild.download(build.module, build.fetch_version, gobuild.log_for(build.key))))
        except ToolBuildError as err:
            errors.append(f"{build.name} {build.version}: {err.message}")
    if errors:
        raise ToolBuildError(
            f"cannot build the Pulumi engine: {len(errors)} of its Go modules cannot be fetched:\n  - "
            + "\n  - ".join(errors),
            hint=f"a `pulumi` {CLI.version} on PATH is used instead of building; a prebuilt provider can be put at "
            f"{cache_dir() / 'bin'}/pulumi-resource-NAME-vX.Y.Z/pulumi-resource-NAME",
        )
    return fetched


def ensure_engine(progress: Progress = _quiet, force: bool = False) -> EnginePaths:
    """Build whatever is missing, install the provider offline, and return the paths.

    A second call finds everything cached and only checks files (well under a second).
    ``force`` rebuilds every binary and reinstalls the plugins.
    """
    start = time.monotonic()
    check_pins()
    cli = None if force else find_cli()
    todo: list[GoBuild] = [] if cli else [CLI]
    for name, (build, version) in PROVIDERS.items():
        if force or not (plugins.plugin_installed(name, version) or _executable(target(build))):
            todo.append(build)
    built: list[tuple[str, float]] = []
    if todo:
        names = ", ".join(b.name for b in todo)
        plural = "y" if len(todo) == 1 else "ies"
        progress(f"building {len(todo)} Pulumi engine binar{plural} from Go modules ({names}); "
                 "the first build takes 10-25 minutes on 2 cores, then it is cached")
        fetched = _preflight(todo, progress)
        for i, (build, info) in enumerate(fetched, 1):
            progress(f"[{i}/{len(todo)}] building {build.name} {build.version} ({build.module}) ...")
            seconds = gobuild.build_binary(build, target(build), progress, info)
            built.append((build.name, seconds))
            progress(f"[{i}/{len(todo)}] built {build.name} in {_fmt(seconds)} -> {target(build)}")
        cli = find_cli()
        if cli is None:
            raise ToolBuildError("the Pulumi CLI is still missing after building it")
    assert cli is not None
    env = plugins.offline_env(cli.parent)
    for name, (build, version) in PROVIDERS.items():
        if force or not plugins.plugin_installed(name, version):
            progress(f"installing plugin resource {name} v{version} into {plugins.pulumi_home()}")
            plugins.install_plugin(cli, name, version, target(build), env, gobuild.log_for(build.key), force)
    total = time.monotonic() - start
    if built:
        progress(f"built {len(built)} Pulumi engine binar{'y' if len(built) == 1 else 'ies'} in {_fmt(total)}")
    return paths_for(cli, built, total)
