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


def local_kubeconfig() -> Path:
    """The admin kubeconfig of the embedded local cluster (it exists once `spbe cluster up` has run)."""
    return state_dir() / "cluster" / "kubeconfig"


def private_secret_file(path: Path, size: int = 32) -> bytes:
    """The contents of a 0600 file holding a random token, created on first use (race-safe)."""
    import secrets

    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(size))
        try:
            os.link(tmp, path)  # atomic and never overwrites: the first of two racing runs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    value = path.read_bytes().strip()
    if len(value) < 16:
        raise ValueError(f"{path} holds no usable secret (shorter than 16 bytes); delete it to have a new one made")
    return value
