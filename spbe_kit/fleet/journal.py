"""A rollout's record: its run folder (what was asked, the requests as they were), an append-only journal,
and the lock that keeps two rollouts of one fleet apart.

Everything a resume, a rollback, a status or a report knows comes from here. The journal is
JSON lines, flushed and fsync'd per event, so a `kill -9` loses at most the event being written
(a torn last line is ignored on reading).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.errors import SpbeError
from spbe_kit.evidence import operator
from spbe_kit.paths import state_dir


class FleetBusy(SpbeError):
    """Another rollout of the same fleet is running."""


class RunNotFound(SpbeError):
    """No rollout run by that id."""


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def runs_dir() -> Path:
    return state_dir() / "fleet" / "runs"


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)




@dataclass
class Run:
    """One rollout: its folder under the state directory."""

    id: str
    path: Path

    @property
    def header_file(self) -> Path:
        return self.path / "run.json"

    @property
    def journal_file(self) -> Path:
        return self.path / "journal.jsonl"

    @property
    def requests_dir(self) -> Path:
        return self.path / "requests"  # the requests as they were when the run started: resume uses these

    def header(self) -> dict:
        return json.loads(self.header_file.read_text())

    def append(self, event: str, **fields) -> dict:
        entry = {"at": now(), "event": event, **fields}
        with self.journal_file.open("a") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return entry

    def events(self) -> list[dict]:
        if not self.journal_file.exists():
            return []
        out = []
        for line in self.journal_file.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a kill: that event never completed
        return out


def create(header: dict, requests: list[Path], fleet_file: Path | None) -> Run:
    run_id = new_run_id()
    path = runs_dir() / run_id
    (path / "requests").mkdir(parents=True)
    for source in requests:
        (path / "requests" / source.name).write_bytes(source.read_bytes())
    if fleet_file and fleet_file.exists():
        (path / "requests" / fleet_file.name).write_bytes(fleet_file.read_bytes())
    run = Run(run_id, path)
    run.header_file.write_text(json.dumps({"id": run_id, **header}, indent=2, sort_keys=True))
    return run


def find(run_id: str) -> Run:
    path = runs_dir() / run_id
    if not (path / "run.json").exists():
        known = sorted(p.name for p in runs_dir().glob("*") if (p / "run.json").exists()) if runs_dir().exists() else []
        raise RunNotFound(f"no fleet rollout run {run_id!r}",
                          hint=("runs: " + ", ".join(known[-5:])) if known else "start one with `spbe fleet apply DIR --to VERSION`")
    return Run(run_id, path)


def all_runs() -> list[Run]:
    if not runs_dir().exists():
        return []
    return [Run(p.name, p) for p in sorted(runs_dir().iterdir()) if (p / "run.json").exists()]


@contextmanager
def fleet_lock(folder: str, run_id: str) -> Iterator[None]:
    """One rollout per fleet folder on this machine at a time; the OS drops the lock when a run dies."""
    locks = state_dir() / "fleet" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:16]
    with open(locks / f"{key}.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another rollout"
            raise FleetBusy(f"a rollout of fleet {folder} is already running: {holder}",
                            hint="wait for it, or look at it with `spbe fleet status RUN`") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"run {run_id}, pid {os.getpid()} on {socket.gethostname()} by {operator()}, since {now()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
