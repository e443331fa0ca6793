"""Background processes with pidfiles: start detached, check, stop.

Each process is started through ``/bin/sh -c 'cmd & echo $!'`` in a new session, so it is
re-parented to init at once: it outlives the CLI, never becomes our zombie, and a Ctrl-C
in the terminal does not reach it. Its stdout and stderr go to a log file.

A pidfile holds JSON ``{"pid", "exe", "marker"}``; a pid only counts as ours while
``/proc/<pid>/cmdline`` still contains the marker, so a recycled pid is never killed.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Record:
    name: str
    pid: int
    marker: str  # a string that must appear in the process' command line


def pidfile(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def read(run_dir: Path, name: str) -> Record | None:
    path = pidfile(run_dir, name)
    try:
        data = json.loads(path.read_text())
        return Record(name=name, pid=int(data["pid"]), marker=str(data["marker"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[0]


def alive(record: Record | None) -> bool:
    """True while the recorded process runs (not a zombie) and is still the one we started."""
    if record is None:
        return False
    state = _state(record.pid)
    if not state or state in ("Z", "X"):
        return False
    return record.marker in _cmdline(record.pid)


def exited(record: Record) -> bool:
    """True once the process we just started is gone or a zombie.

    Used while waiting for a fresh start, where the marker check of `alive` would race with
    the exec: /proc/<pid>/cmdline reads empty for a moment while the shell's child becomes
    the binary, and a healthy start was taken for a crash.
    """
    return _state(record.pid) in ("", "Z", "X")


def running(run_dir: Path, name: str) -> Record | None:
    record = read(run_dir, name)
    return record if alive(record) else None


def start(
    run_dir: Path,
    name: str,
    argv: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    marker: str | None = None,
) -> Record:
    """Start ``argv`` detached, logging to ``log``; write and return its pid record."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {name}: {shlex.join(argv)}\n")
    script = f"exec 0</dev/null; {shlex.join(argv)} >>{shlex.quote(str(log))} 2>&1 & echo $!"
    out = subprocess.run(
        ["/bin/sh", "-c", script],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        check=True,
    )
    record = Record(name=name, pid=int(out.stdout.strip()), marker=marker or argv[0])
    pidfile(run_dir, name).write_text(json.dumps({"pid": record.pid, "marker": record.marker}) + "\n")
    return record


def stop(run_dir: Path, name: str, timeout: float = 20.0) -> bool:
    """Stop the recorded process (SIGTERM, then SIGKILL after ``timeout``). True if it was running."""
    record = read(run_dir, name)
    was_running = alive(record)
    if record is not None and was_running:
        _signal(record.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(record) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(record):
            _signal(record.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while alive(record) and time.monotonic() < deadline:
                time.sleep(0.1)
    pidfile(run_dir, name).unlink(missing_ok=True)
    return was_running


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (0 if unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tail(log: Path, lines: int = 8) -> str:
    """Last lines of a log, for error messages."""
    try:
        text = log.read_text(errors="replace").rstrip().splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])
