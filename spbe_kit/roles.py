"""Where the Ansible roles live, and their defaults (the paths they write are read from here, not repeated)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from spbe_kit.errors import SpbeError

#: shipped inside the package (package data), so a plain `pip install` has them too
ROLES_DIR = Path(__file__).resolve().parent / "ansible" / "roles"
REQUIREMENTS = ROLES_DIR.parent / "requirements.yml"


def roles_dir() -> Path:
    if not (ROLES_DIR / "spbe_database" / "tasks" / "main.yml").is_file():
        raise SpbeError(f"the Ansible roles are not at {ROLES_DIR}",
                        hint="reinstall spbe-kit: the roles ship inside the package (spbe_kit/ansible/roles)")
    return ROLES_DIR


@lru_cache(maxsize=None)
def _role_yaml(role: str, part: str) -> dict:
    path = roles_dir() / role / part / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def role_defaults(role: str) -> dict:
    """The role's `defaults/main.yml` (values with Jinja in them are returned as written)."""
    return _role_yaml(role, "defaults")


def role_vars(role: str) -> dict:
    """The role's `vars/main.yml` (what the role fixes for every tenant), or nothing."""
    return _role_yaml(role, "vars")
