"""A plain `pip install` of the built wheel, outside the checkout, gives an `spbe` that finds everything.

Builds the wheel, installs it (with its dependencies) into a fresh virtualenv in a temporary
directory, and runs commands from there: nothing may be found through the source tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the virtualenv it is installed in)."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)],
                   check=True, env=env, cwd=tmp, timeout=600)
    wheel = next((tmp / "dist").glob("spbe_kit-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, env=env, cwd=tmp,
                   timeout=1200)
    return wheel, venv


def _run(venv: Path, *args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean["PATH"] = f"{venv / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, env={**clean, **(env or {})},
                          timeout=600)


def test_the_wheel_carries_roles_templates_catalog_and_region_data(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for role in ("spbe_identity", "spbe_database", "spbe_mail", "spbe_monitoring", "spbe_eoffice"):
        assert f"spbe_kit/ansible/roles/{role}/tasks/main.yml" in names, role
        assert f"spbe_kit/ansible/roles/{role}/meta/argument_specs.yml" in names, role
    assert "spbe_kit/ansible/requirements.yml" in names
    assert {"spbe_kit/templates/request.yaml.j2", "spbe_kit/templates/drift_report.html.j2",
            "spbe_kit/catalog/versions/2026.11.yaml", "spbe_kit/data/wilayah.csv",
            "spbe_kit/verify/suite/test_database.py"} <= names


def test_every_command_works_from_outside_the_checkout(installed, tmp_path):
    _, venv = installed
    where = _run(venv, "python", "-c", "import spbe_kit.roles as r; print(r.roles_dir())", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout
    assert _run(venv, "spbe", "tenant", "configure", "--help", cwd=tmp_path).returncode == 0
    request = _run(venv, "spbe", "request", "new", "--region", "35.10", "--out-file", "kab-banyuwangi.yaml",
                   cwd=tmp_path)
    assert request.returncode == 0, request.stderr
    rendered = _run(venv, "spbe", "tenant", "render", "kab-banyuwangi.yaml", "--out-dir", "out", "-o", "json",
                    cwd=tmp_path)
    assert rendered.returncode == 0 and json.loads(rendered.stdout)["objects"], rendered.stderr


def test_a_role_runs_in_check_mode_from_the_installed_package(installed, tmp_path):
    _, venv = installed
    roles = _run(venv, "python", "-c", "import spbe_kit.roles as r; print(r.roles_dir())", cwd=tmp_path).stdout.strip()
    (tmp_path / "play.yml").write_text("- hosts: all\n  gather_facts: false\n  roles: [spbe_monitoring]\n")
    variables = {"spbe_monitoring_tenant": "kab-banyuwangi", "spbe_monitoring_config_dir": str(tmp_path / "etc"),
                 "spbe_monitoring_rules_dir": str(tmp_path / "etc" / "rules"),
                 "spbe_monitoring_targets": [{"job": "identity", "targets": ["127.0.0.1:9"]}],
                 "spbe_monitoring_prometheus_url": "http://127.0.0.1:9", "spbe_monitoring_grafana_dir": str(tmp_path / "g")}
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    run = _run(venv, "ansible-playbook", "-i", "localhost,", "-c", "local", "play.yml", "-e", "@vars.json", "--check",
               cwd=tmp_path, env={"ANSIBLE_ROLES_PATH": roles, "ANSIBLE_NOCOLOR": "1",
                                  "ANSIBLE_PYTHON_INTERPRETER": str(venv / "bin" / "python")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "failed=0" in run.stdout and "changed=" in run.stdout
    assert not (tmp_path / "etc").exists(), "check mode wrote files"


def test_verify_finds_its_suite_when_installed(installed, tmp_path):
    _, venv = installed
    targets = {"tenant": "kab-banyuwangi", "targets": {"monitoring": {"host": "local://", "facts": {
        "tenant": "kab-banyuwangi", "port": 9, "config_file": str(tmp_path / "none.yml"),
        "rules_file": str(tmp_path / "none-rules.yml")}}}}
    (tmp_path / "targets.json").write_text(json.dumps(targets))
    run = _run(venv, "spbe", "verify", "kab-banyuwangi", "--targets", "targets.json", "-o", "json", cwd=tmp_path)
    report = json.loads(run.stdout)
    assert run.returncode == 1, run.stderr  # nothing runs there: checks fail, but they were found and ran
    checks = {r["check"] for r in report["results"]}
    assert len(checks) >= 3 and all(r["component"] == "monitoring" for r in report["results"])
    assert report["verified"] is False
