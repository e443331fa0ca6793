"""Every Ansible role passes ansible-lint's production profile, and its defaults match its argument specs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "spbe_kit" / "ansible" / "roles"
ROLE_DIRS = sorted(p for p in ROLES.iterdir() if (p / "tasks" / "main.yml").is_file())


def test_there_are_roles():
    assert ROLE_DIRS


def test_ansible_lint_production_profile():
    lint = shutil.which("ansible-lint") or pytest.fail("ansible-lint is not installed (pip install -e '.[test]')")
    proc = subprocess.run([lint, "--profile", "production", "--nocolor", str(ROLES)], capture_output=True, text=True,
                          cwd=ROLES.parent, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


@pytest.mark.parametrize("role", ROLE_DIRS, ids=[p.name for p in ROLE_DIRS])
def test_every_default_is_typed_in_the_argument_specs_and_prefixed(role):
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    main = specs["main"]["options"]
    assert set(defaults) == set(main), "defaults/main.yml and meta/argument_specs.yml (main) list the same variables"
    for name, value in defaults.items():
        assert name.startswith(f"{role.name}_"), f"{name} is not prefixed with the role name"
        assert main[name].get("default") == value, f"{name}: default differs between defaults and argument specs"
