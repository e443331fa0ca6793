"""`spbe` started by the portal ends with the portal (spbe_kit.parent_process), tested on real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from spbe_kit.parent_process import PARENT_PID, follow_parent

ROOT = Path(__file__).resolve().parents[2]
_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# a command that follows its parent, says it is armed, then would run for a minute
_CHILD = ("import os, time; from spbe_kit.parent_process import PARENT_PID, follow_parent; "
          "print(follow_parent(), PARENT_PID in os.environ, flush=True); time.sleep(60)")

# a parent that starts the command as the portal's worker does, reports the command's pid, then dies
_PARENT = f"""
import os, subprocess, sys
env = {{**os.environ, "{PARENT_PID}": str(os.getpid())}}
child = subprocess.Popen([sys.executable, "-c", {_CHILD!r}], stdout=subprocess.PIPE, text=True, env=env)
print(child.pid, child.stdout.readline().strip(), flush=True)
os._exit(0)
"""


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_the_command_ends_when_the_process_that_started_it_dies():
    parent = subprocess.run([sys.executable, "-c", _PARENT], capture_output=True, text=True, env=_ENV, timeout=30)
    pid, armed, passed_on = parent.stdout.split()
    assert armed == "True", parent.stderr
    assert passed_on == "False"  # taken out: the engine and Ansible the command runs never see it
    try:
        assert _gone(int(pid), within=5), "the command outlived the process that started it"
    finally:
        try:
            os.kill(int(pid), 9)
        except ProcessLookupError:
            pass


def test_a_command_whose_parent_is_already_gone_stops_before_it_starts():
    # the named parent is not ours (pid 1 is init): the parent died and the command was reparented
    result = subprocess.run([sys.executable, "-m", "spbe_kit", "catalog", "list"], capture_output=True, text=True,
                            env={**_ENV, PARENT_PID: "1"}, timeout=60)
    assert result.returncode == 2 and "has already ended; stopping" in result.stderr and result.stdout == ""


def test_without_the_variable_or_with_a_garbled_one_nothing_is_armed():
    environ = {"PATH": "/usr/bin"}
    assert follow_parent(environ) is False and environ == {"PATH": "/usr/bin"}
    environ = {PARENT_PID: "the portal"}
    assert follow_parent(environ) is False and environ == {}
