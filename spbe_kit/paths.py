"""Where spbe-kit keeps built tools and runtime state on this machine."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Cache for built binaries (XDG convention, overridable with SPBE_CACHE_DIR)."""
    override = os.environ.get("SPBE_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spbe-kit"


def state_dir() -> Path:
    """Runtime state (cluster data, logs, kubeconfig, Pulumi backend), overridable with SPBE_STATE_DIR."""
    override = os.environ.get("SPBE_STATE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "spbe-kit"
