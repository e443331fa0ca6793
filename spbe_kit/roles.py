"""Where the Ansible roles live, and their defaults (the paths they write are read from here, not repeated)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from spbe_kit.errors import SpbeError

ROLES_DIR = Path(__file__).resolve().parent.parent / "roles"


def roles_dir() -> Path:
    if not ROLES_DIR.is_dir():
        raise SpbeError(f"the Ansible roles are not at {ROLES_DIR}",
                        hint="run spbe from a checkout of spbe-kit (pip install -e .), where roles/ sits next to spbe_kit/")
    return ROLES_DIR


@lru_cache(maxsize=None)
def role_defaults(role: str) -> dict:
    """The role's `defaults/main.yml` (values with Jinja in them are returned as written)."""
    return yaml.safe_load((roles_dir() / role / "defaults" / "main.yml").read_text()) or {}
