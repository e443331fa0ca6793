"""The offline Pulumi home: where plugins are installed and the environment that keeps it offline.

``PULUMI_HOME`` lives under ``cache_dir()/pulumi-home``, so nothing of ours lands in
``~/.pulumi``. Providers are installed into it from the binaries we built with
``pulumi plugin install resource NAME vX.Y.Z --file BINARY`` (a local copy, no download),
which creates ``plugins/resource-NAME-vX.Y.Z/pulumi-resource-NAME``; the engine then finds
them there by the version the Python SDKs ask for.

No language host is installed at all: tenant programs are inline Automation API programs
whose language runtime the Python SDK serves in-process.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from spbe_kit.errors import ToolBuildError
from spbe_kit.paths import cache_dir

#: Environment variables that keep the engine from reaching the network on its own.
OFFLINE_SETTINGS: dict[str, str] = {
    # `pulumi` checks for a newer CLI release (a request to the Pulumi service) otherwise.
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    # A missing plugin is an error instead of a download from GitHub / get.pulumi.com.
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    # Package names are not resolved through the Pulumi Registry.
    "PULUMI_DISABLE_REGISTRY_RESOLVE": "true",
    # Only the plugins installed in our PULUMI_HOME count, never a pulumi-resource-* on PATH.
    "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
}


def _tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def pulumi_home() -> Path:
    """``PULUMI_HOME`` for spbe-kit: plugins, credentials and workspace settings of the engine."""
    return cache_dir() / "pulumi-home"


def plugin_dir(name: str, version: str) -> Path:
    """Where ``pulumi plugin install resource NAME vVERSION`` puts a provider."""
    return pulumi_home() / "plugins" / f"resource-{name}-v{version.lstrip('v')}"


def plugin_installed(name: str, version: str) -> bool:
    """Whether a provider is fully installed (its binary is there and no install is half-done)."""
    pdir = plugin_dir(name, version)
    binary = pdir / f"pulumi-resource-{name}"
    partial = pdir.with_name(pdir.name + ".partial")
    return binary.is_file() and os.access(binary, os.X_OK) and not partial.exists()


def offline_env(cli_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The variables that point the engine at our binaries and keep it offline.

    ``PATH`` (for the engine's own process only) starts with the CLI's directory, followed by
    the current ``PATH`` (from ``base``, default ``os.environ``).
    """
    base = dict(os.environ) if base is None else base
    dirs: list[str] = []
    for entry in (str(cli_dir), *base.get("PATH", os.defpath).split(os.pathsep)):
        if entry and entry not in dirs:
            dirs.append(entry)
    env = {
        "PATH": os.pathsep.join(dirs),
        "PULUMI_HOME": str(pulumi_home()),
        **OFFLINE_SETTINGS,
    }
    return env


def install_plugin(
    cli: Path, name: str, version: str, binary: Path, env: dict[str, str], log: Path, reinstall: bool = False
) -> None:
    """``pulumi plugin install resource NAME vVERSION --file BINARY`` into our ``PULUMI_HOME``."""
    args = [str(cli), "plugin", "install", "resource", name, f"v{version.lstrip('v')}", "--file", str(binary)]
    if reinstall:
        args.append("--reinstall")
    full_env = {**os.environ, **env}
    pulumi_home().mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(args)}\n")
        fh.flush()
        proc = subprocess.run(args, env=full_env, stdout=fh, stderr=subprocess.STDOUT, timeout=600)
    if proc.returncode != 0 or not plugin_installed(name, version):
        raise ToolBuildError(
            f"installing the {name} v{version.lstrip('v')} plugin failed (exit {proc.returncode}): {_tail(log)}",
            hint=f"full log: {log}",
        )


def cli_version(cli: Path) -> str | None:
    """What ``pulumi version`` prints (e.g. ``v3.272.0``), or None when it cannot be run."""
    try:
        proc = subprocess.run(
            [str(cli), "version"],
            env={**os.environ, **OFFLINE_SETTINGS},
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None
