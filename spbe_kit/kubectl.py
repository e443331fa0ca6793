"""Finding `kubectl`, which the roles (Ansible's kubectl connection) and the checks (testinfra) run.

A `kubectl` on PATH is used; otherwise the one `spbe cluster build` compiled into the cache.
The result is handed to each subprocess explicitly: nothing here changes this process's PATH.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from spbe_kit.errors import ToolBuildError
from spbe_kit.paths import cache_dir


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", path.parent.name))


def find_kubectl() -> Path | None:
    """kubectl on PATH, else the newest cached build; None when there is neither."""
    on_path = shutil.which("kubectl")
    if on_path:
        return Path(on_path)
    cached = [p for p in (cache_dir() / "bin").glob("kubectl-v*/kubectl") if os.access(p, os.X_OK)]
    return max(cached, key=_version_key) if cached else None


def require_kubectl() -> Path:
    path = find_kubectl()
    if path is None:
        raise ToolBuildError("kubectl is not installed", hint="install kubectl, or build ours with `spbe cluster build`")
    return path


def path_with(binary: Path, base: str | None = None) -> str:
    """A PATH value (for a subprocess's environment) that finds ``binary`` first."""
    rest = os.environ.get("PATH", os.defpath) if base is None else base
    return os.pathsep.join([str(binary.parent), rest])
