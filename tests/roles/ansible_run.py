"""Run a test playbook against this machine with ansible-playbook, and read its recap."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECAP = re.compile(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


@dataclass
class Run:
    rc: int
    ok: int
    changed: int
    failed: int
    output: str


def run_playbook(playbook: str, variables: dict, tmp_path: Path, check: bool = False) -> Run:
    extra = tmp_path / f"vars-{os.getpid()}-{len(list(tmp_path.iterdir()))}.json"
    extra.write_text(json.dumps(variables))
    extra.chmod(0o600)
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "spbe_kit" / "ansible" / "roles"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"), "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    cmd = ["ansible-playbook", "-i", "localhost,", "-c", "local", str(ROOT / "tests" / "roles" / "playbooks" / playbook),
           "-e", f"@{extra}"] + (["--check"] if check else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    match = RECAP.search(proc.stdout)
    ok, changed, _unreachable, failed = (int(x) for x in match.groups()) if match else (0, 0, 0, 1)
    return Run(proc.returncode, ok, changed, failed, proc.stdout + proc.stderr)
