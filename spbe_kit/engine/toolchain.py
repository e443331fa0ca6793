"""The Pulumi engine, built from Go modules at the pinned versions and used fully offline.

Four pieces, each cached in ``cache_dir()/bin/<tool>-<version>/`` and built only when missing
(logs in ``cache_dir()/logs/build-<tool>-<version>.log``):

==============================  =====================================================  =========
binary                          Go module (version)                                    recipe
==============================  =====================================================  =========
``pulumi`` (in ``bin/``)        ``github.com/pulumi/pulumi/pkg/v3`` (v3.272.0)         wrapper
``pulumi-language-python``      ``.../sdk/python/cmd/pulumi-language-python/v3``       wrapper
 + ``-exec`` shim               file ``python/cmd/pulumi-language-python-exec`` of
                                ``github.com/pulumi/pulumi/sdk/v3`` (v3.272.0)
``pulumi-resource-kubernetes``  ``github.com/pulumi/pulumi-kubernetes/provider/v4``    source
``pulumi-resource-random``      ``github.com/pulumi/pulumi-random/provider/v4``        source
==============================  =====================================================  =========

(recipes: :mod:`spbe_kit.engine.gobuild`; per-tool specs: :mod:`spbe_kit.engine.specs`).
A ``pulumi`` already on ``PATH`` is used instead of building when ``pulumi version`` prints
the pinned version, together with the language host shipped beside it. Providers are then installed into an offline
``PULUMI_HOME`` (:mod:`spbe_kit.engine.plugins`).

Before building anything, every module to build from is fetched, so a module the Go proxy
will not serve fails at once, listing each one with the proxy's own words, rather than after
a long CLI build.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from spbe_kit.gotools import fmt_seconds as _fmt
from spbe_kit.engine import gobuild, plugins
from spbe_kit.engine.gobuild import GoBuild, Progress
from spbe_kit.engine.specs import (
    EXEC_SHIM_IN_SDK,
    CLI,
    EXEC_SHIM,
    LANGUAGE_HOST,
    PKG_MODULE,
    PROVIDERS,
    SDK_MODULE,
    target,
)
from spbe_kit.engine.versions import PULUMI_VERSION, check_pins
from spbe_kit.errors import ToolBuildError
from spbe_kit.paths import cache_dir


def _quiet(_: str) -> None:
    pass


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@dataclass(frozen=True)
class EnginePaths:
    """Everything the Automation API needs: the binaries in use and the offline ``PULUMI_HOME``."""

    cli: Path
    language_host: Path
    language_exec: Path
    providers: dict[str, Path]  # plugin name -> installed binary under pulumi_home
    pulumi_home: Path
    built: tuple[tuple[str, float], ...] = field(default=())  # (tool, seconds) built by this call
    seconds: float = 0.0

    @property
    def cli_root(self) -> Path:
        """The ``root`` for ``pulumi.automation.PulumiCommand`` (it runs ``root/bin/pulumi``)."""
        return self.cli.parent.parent

    def env(self) -> dict[str, str]:
        return engine_env(self)


def _find_cli() -> Path | None:
    """Our cached CLI, else a ``pulumi`` on PATH whose version is the pinned one."""
    cached = target(CLI)
    if _executable(cached):
        return cached
    on_path = shutil.which("pulumi")
    if on_path and plugins.cli_version(Path(on_path)) == CLI.version:
        return Path(on_path)
    return None


def _find_language_host(cli: Path | None) -> tuple[Path, Path] | None:
    """(language host, exec shim): our cached build, else the pair shipped beside a pinned CLI."""
    dirs = [target(LANGUAGE_HOST).parent]
    if cli is not None and cli != target(CLI):
        dirs.append(cli.parent)
    for d in dirs:
        host, shim = d / LANGUAGE_HOST.name, d / EXEC_SHIM
        if _executable(host) and _executable(shim):
            return host, shim
    return None


def resolve() -> EnginePaths:
    """The engine as it is now, building nothing; raises when a piece is missing."""
    cli = _find_cli()
    lang = _find_language_host(cli)
    missing = [name for name, (_b, ver) in PROVIDERS.items() if not plugins.plugin_installed(name, ver)]
    if cli is None or lang is None or missing:
        raise ToolBuildError(
            "the Pulumi engine is not ready (missing: "
            + ", ".join(([] if cli else ["pulumi"]) + ([] if lang else [LANGUAGE_HOST.name]) + missing)
            + ")",
            hint="call spbe_kit.engine.toolchain.ensure_engine() to build and install it",
        )
    return _paths(cli, lang)


def _paths(
    cli: Path, lang: tuple[Path, Path], built: list[tuple[str, float]] | None = None, seconds: float = 0.0
) -> EnginePaths:
    providers = {
        name: plugins.plugin_dir(name, ver) / f"pulumi-resource-{name}" for name, (_b, ver) in PROVIDERS.items()
    }
    return EnginePaths(cli, lang[0], lang[1], providers, plugins.pulumi_home(), tuple(built or ()), seconds)


def engine_env(paths: EnginePaths | None = None) -> dict[str, str]:
    """Environment for the Automation API (``LocalWorkspaceOptions(env_vars=...)``), offline.

    PATH starts with the CLI's and the language host's directories; PULUMI_HOME is ours;
    update checks, plugin downloads and registry look-ups are off.
    """
    check_pins()
    paths = resolve() if paths is None else paths
    return plugins.offline_env(paths.cli.parent, paths.language_host.parent)


def pulumi_command(paths: EnginePaths | None = None):  # -> pulumi.automation.PulumiCommand
    """A ``PulumiCommand`` for our CLI (the default one looks ``pulumi`` up on the process PATH)."""
    from pulumi.automation import PulumiCommand
    from semver import VersionInfo

    paths = resolve() if paths is None else paths
    return PulumiCommand(root=str(paths.cli_root), version=VersionInfo.parse(PULUMI_VERSION))


def _not_published(err: ToolBuildError) -> bool:
    text = str(err)
    return any(s in text for s in ("unknown revision", "invalid version", "404 Not Found", "410 Gone"))


def _fetch(build: GoBuild) -> tuple[GoBuild, dict]:
    """Download the module ``build`` is built from; returns the (possibly re-versioned) build."""
    log = gobuild.log_for(build.key)
    try:
        return build, gobuild.download(build.module, build.fetch_version, log)
    except ToolBuildError as err:
        if build.name != LANGUAGE_HOST.name or not _not_published(err):
            raise
    # The language host's nested module may have no tag of its own: use the commit of the
    # pulumi release (recorded in pkg/v3's .info by the proxy), which go turns into a pseudo-version.
    info = gobuild.download(PKG_MODULE, CLI.version, log)
    commit = json.loads(Path(info["Info"]).read_text()).get("Origin", {}).get("Hash")
    if not commit:
        raise ToolBuildError(f"{build.module} has no {build.version} tag and the release commit is unknown")
    build = replace(build, module_version=commit)
    return build, gobuild.download(build.module, commit, log)


def _preflight(todo: list[GoBuild], progress: Progress) -> list[tuple[GoBuild, dict]]:
    """Fetch every module first; raise one error naming each module that cannot be fetched."""
    fetched: list[tuple[GoBuild, dict]] = []
    errors: list[str] = []
    for build in todo:
        progress(f"fetching {build.module}@{build.fetch_version} ...")
        try:
            fetched.append(_fetch(build))
        except ToolBuildError as err:
            errors.append(f"{build.name} {build.version}: {err.message}")
    if errors:
        raise ToolBuildError(
            f"cannot build the Pulumi engine: {len(errors)} of its Go modules cannot be fetched:\n  - "
            + "\n  - ".join(errors),
            hint=f"a `pulumi` {CLI.version} on PATH (with pulumi-language-python and its -exec shim "
            f"beside it) is used instead of building; prebuilt providers can be put at "
            f"{cache_dir() / 'bin'}/pulumi-resource-NAME-vX.Y.Z/pulumi-resource-NAME",
        )
    return fetched


def _install_exec_shim(progress: Progress) -> None:
    """Copy ``pulumi-language-python-exec`` from the pulumi sdk module beside the language host."""
    dest = target(LANGUAGE_HOST).parent / EXEC_SHIM
    log = gobuild.log_for(LANGUAGE_HOST.key)
    info = gobuild.download(SDK_MODULE, LANGUAGE_HOST.version, log)
    source = Path(info["Dir"]) / EXEC_SHIM_IN_SDK
    if not source.is_file():
        raise ToolBuildError(f"{SDK_MODULE}@{LANGUAGE_HOST.version} has no {EXEC_SHIM_IN_SDK}", hint=f"see {log}")
    tmp = dest.with_name(f".{EXEC_SHIM}.partial")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, tmp)
    tmp.chmod(0o755)
    tmp.replace(dest)
    progress(f"installed {EXEC_SHIM} from {SDK_MODULE}@{LANGUAGE_HOST.version} -> {dest}")


def ensure_engine(progress: Progress = _quiet, force: bool = False) -> EnginePaths:
    """Build whatever is missing, install the providers offline, and return the paths.

    A second call finds everything cached and only checks files (well under a second).
    ``force`` rebuilds every binary and reinstalls the plugins.
    """
    start = time.monotonic()
    check_pins()
    cli = None if force else _find_cli()
    lang = None if force else _find_language_host(cli)
    todo: list[GoBuild] = ([] if cli else [CLI]) + ([] if lang else [LANGUAGE_HOST])
    for name, (build, version) in PROVIDERS.items():
        if force or not (plugins.plugin_installed(name, version) or _executable(target(build))):
            todo.append(build)
    built: list[tuple[str, float]] = []
    if todo:
        names = ", ".join(b.name for b in todo)
        plural = "y" if len(todo) == 1 else "ies"
        progress(f"building {len(todo)} Pulumi engine binar{plural} from Go modules ({names})")
        fetched = _preflight(todo, progress)
        for i, (build, info) in enumerate(fetched, 1):
            progress(f"[{i}/{len(todo)}] building {build.name} {build.version} ({build.module}) ...")
            seconds = gobuild.build_binary(build, target(build), progress, info)
            if build.name == LANGUAGE_HOST.name:
                _install_exec_shim(progress)
            built.append((build.name, seconds))
            progress(f"[{i}/{len(todo)}] built {build.name} in {_fmt(seconds)} -> {target(build)}")
        cli = _find_cli()
        lang = _find_language_host(cli)
        if cli is None or lang is None:
            raise ToolBuildError("the Pulumi CLI or language host is still missing after building them")
    assert cli is not None and lang is not None
    env = plugins.offline_env(cli.parent, lang[0].parent)
    for name, (build, version) in PROVIDERS.items():
        if force or not plugins.plugin_installed(name, version):
            progress(f"installing plugin resource {name} v{version} into {plugins.pulumi_home()}")
            plugins.install_plugin(cli, name, version, target(build), env, gobuild.log_for(build.key), force)
    total = time.monotonic() - start
    if built:
        progress(f"built {len(built)} Pulumi engine binar{'y' if len(built) == 1 else 'ies'} in {_fmt(total)}")
    return _paths(cli, lang, built, total)
