"""Run a configuration plan with ansible-playbook, one role at a time, stopping at the first failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from spbe_kit.configure.plan import RoleRun
from spbe_kit.kubectl import find_kubectl, path_with
from spbe_kit.roles import roles_dir

RECAP = re.compile(r"^\S+\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass(frozen=True)
class RoleResult:
    component: str
    role: str
    status: str  # configured | failed | not run
    changed: int = 0
    seconds: float = 0.0
    detail: str = ""  # the end of Ansible's output when it failed, with every credential masked


def _ansible_playbook() -> str:
    """ansible-playbook of the environment spbe runs in (a virtualenv need not be activated), else PATH's."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.is_file() else (shutil.which("ansible-playbook") or "ansible-playbook")


def _secret_values(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _secret_values(v)]
    if isinstance(value, list):
        return [s for v in value for s in _secret_values(v)]
    return [value] if isinstance(value, str) and len(value) >= 12 else []


def _mask(text: str, run: RoleRun) -> str:
    secrets = [v for k, v in run.variables.items() if k.endswith(("password", "secret", "secrets", "mailboxes", "apps"))]
    for value in sorted({s for v in secrets for s in _secret_values(v)}, key=len, reverse=True):
        text = text.replace(value, "****")
    return text


def run_plan(runs: list[RoleRun], progress: Callable[[str], None] = lambda _: None) -> list[RoleResult]:
    results: list[RoleResult] = []
    workdir = Path(tempfile.mkdtemp(prefix="spbe-configure-"))  # mode 0700: variables hold credentials
    try:
        for index, run in enumerate(runs):
            if results and results[-1].status != "configured":
                results.append(RoleResult(run.component, run.role, "not run"))
                continue
            progress(f"configure {run.component} ({run.role}) ...")
            started = time.monotonic()
            variables = workdir / f"{index}-vars.json"
            fd = os.open(variables, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(run.variables, out)
            inventory = workdir / f"{index}-inventory.json"
            inventory.write_text(json.dumps({"all": {"hosts": {run.host: {
                **run.connection, "ansible_python_interpreter": sys.executable if run.host == "localhost" else "auto_silent"}}}}))
            playbook = workdir / f"{index}-playbook.json"
            playbook.write_text(json.dumps([{"name": f"Configure {run.component}", "hosts": run.host,
                                             "gather_facts": False, "roles": [{"role": run.role}]}]))
            kubectl = find_kubectl()  # the kubectl connection plugin runs `kubectl` from PATH
            env = {**os.environ, "ANSIBLE_ROLES_PATH": str(roles_dir()), "ANSIBLE_NOCOLOR": "1",
                   **({"PATH": path_with(kubectl)} if kubectl else {}),
                   "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp")}
            proc = subprocess.run([_ansible_playbook(), "-i", str(inventory),
                                   str(playbook), "-e", f"@{variables}"],
                                  capture_output=True, text=True, env=env, timeout=1800)
            match = RECAP.search(proc.stdout)
            changed = int(match.group(2)) if match else 0
            seconds = time.monotonic() - started
            if proc.returncode == 0:
                results.append(RoleResult(run.component, run.role, "configured", changed, seconds))
                progress(f"configure {run.component}: done, {changed} changed ({seconds:.1f}s)")
            else:
                detail = _mask((proc.stdout + proc.stderr)[-1500:], run)
                results.append(RoleResult(run.component, run.role, "failed", changed, seconds, detail))
                progress(f"configure {run.component}: FAILED")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def as_dicts(results: list[RoleResult]) -> list[dict]:
    return [asdict(r) for r in results]
