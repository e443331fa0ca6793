"""The README's shell commands run exactly as written, in order, and what it says of them holds.

Runs every line of every ```sh block in the checkout, with the virtualenv the tests run in
activated (as the README's first line does), against the local cluster of this test session.
The one line not run is `bash .ci/run`: it is the runner of this very suite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
_REAL = "tests/realnode runs it on a cluster of its own with a real node (one real node per host; a real node here would take this session's tenants off the kwok nodes)"
NOT_RUN = {"bash .ci/run": "it runs this test suite, which is running it",
           "spbe cluster up --real-node": _REAL, "spbe tenant up examples/kab-banyuwangi.yaml": _REAL,
           "spbe verify examples/kab-banyuwangi.yaml": _REAL, "spbe cluster status": _REAL}
#: lines whose documented outcome is "found something" (exit 1) as well as clean
MAY_FIND = {"spbe drift --all --requests examples/ --evidence evidence/ --lang id"}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            line = line.split(" # ", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def test_the_readme_starts_with_the_main_job_and_the_test_suite():
    commands = readme_commands()
    assert commands[1] == "pip install -e . && spbe cluster up && spbe tenant up examples/kab-banyuwangi.yaml"
    assert commands[2] == "bash .ci/run"
    assert set(NOT_RUN) <= set(commands)


def test_every_readme_command_runs_as_written(cluster):
    venv_bin = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SPBE_KUBECONFIG")}
    env.update({"PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}", "VIRTUAL_ENV": str(venv_bin.parent)})
    ran = []
    try:
        for command in readme_commands():
            if command in NOT_RUN:
                continue
            result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True,
                                    timeout=3600)
            allowed = (0, 1) if command in MAY_FIND else (0,)
            assert result.returncode in allowed, f"`{command}` exited {result.returncode}:\n" \
                                                 f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
            assert "Traceback" not in result.stderr, result.stderr[-3000:]
            ran.append((command, result))
        # what the README says of the main job
        main_job = dict(ran)["pip install -e . && spbe cluster up && spbe tenant up examples/kab-banyuwangi.yaml"]
        assert "tenant kab-banyuwangi is up in" in main_job.stdout
        assert "endpoint:         https://sso.banyuwangikab.go.id  (identity)" in main_job.stdout
        assert "credential:       Secret kab-banyuwangi/identity-admin (password)" in main_job.stdout
        assert "configuration: NOT done and NOT verified" in main_job.stdout  # every pod is simulated here
        status = subprocess.run([str(venv_bin / "spbe"), "tenant", "status", "kab-banyuwangi", "-o", "json"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert status.returncode == 1 and json.loads(status.stdout)["health"] == "unknown"  # never "healthy"
        evidence = sorted(p.suffix for p in (ROOT / "evidence").iterdir())
        assert evidence == [".html", ".json", ".sha256"]
    finally:
        shutil.rmtree(ROOT / "evidence", ignore_errors=True)
