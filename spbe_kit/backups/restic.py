"""restic (Debian) against one tenant's repository in the store: the platform side's reads and writes.

Secrets travel only in the child's environment (never on its command line, never printed); restic's
own error lines are passed on, since it never prints the password or the secret key.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from spbe_kit.backups.store import Credentials
from spbe_kit.errors import BackupError

#: what the job tags every snapshot with, so the platform can tell them from anything else
BACKUP_TAG = "spbe-database"


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: datetime
    host: str
    tags: tuple[str, ...]
    paths: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"id": self.short_id, "time": self.time.isoformat(), "host": self.host, "tags": list(self.tags),
                "paths": list(self.paths)}


def restic_binary() -> str:
    found = shutil.which("restic")
    if not found:
        raise BackupError("restic is not installed", hint="apt-get install restic")
    return found


def _parse_time(value: str) -> datetime:
    # restic prints nanoseconds; Python takes microseconds
    head, _, rest = value.partition(".")
    if rest:
        digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits):]
        value = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Repository:
    """One tenant's restic repository, opened with some identity of the store."""

    def __init__(self, location: str, password: str, credentials: Credentials, cache_dir: Path | None = None,
                 region: str = "us-east-1") -> None:
        self.location = location
        self._password = password
        self._credentials = credentials
        self._cache_dir = cache_dir
        self._region = region

    def __repr__(self) -> str:
        return f"Repository({self.location!r}, {self._credentials})"

    def _env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
        env = {**keep, "RESTIC_REPOSITORY": self.location, "RESTIC_PASSWORD": self._password,
               "AWS_ACCESS_KEY_ID": self._credentials.access_key,
               "AWS_SECRET_ACCESS_KEY": self._credentials.secret_key, "AWS_DEFAULT_REGION": self._region}
        if self._cache_dir:
            env["RESTIC_CACHE_DIR"] = str(self._cache_dir)
        else:
            env["RESTIC_CACHE_DIR"] = "/nonexistent"
        return env

    def run(self, *args: str, cwd: Path | None = None, check: bool = True, timeout: float = 3600) -> subprocess.CompletedProcess:
        cache = [] if self._cache_dir else ["--no-cache"]
        proc = subprocess.run([restic_binary(), *cache, *args], env=self._env(), cwd=cwd, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise BackupError(f"restic {args[0]} on {self.location} failed: {_reason(proc.stderr)}",
                              hint=_hint(proc.stderr))
        return proc

    def exists(self) -> bool:
        proc = self.run("cat", "config", check=False, timeout=120)
        if proc.returncode == 0:
            return True
        if _missing(proc.stderr):
            return False
        raise BackupError(f"cannot open {self.location}: {_reason(proc.stderr)}", hint=_hint(proc.stderr))

    def ensure(self) -> bool:
        """Create the repository unless it exists; True when it was created now."""
        if self.exists():
            return False
        self.run("init", "--repository-version", "2", timeout=300)
        return True

    def snapshots(self, host: str | None = None) -> list[Snapshot]:
        args = ["snapshots", "--json", "--tag", BACKUP_TAG] + (["--host", host] if host else [])
        data = json.loads(self.run(*args, timeout=600).stdout or "[]")
        out = [Snapshot(id=s["id"], short_id=s.get("short_id", s["id"][:8]), time=_parse_time(s["time"]),
                        host=s.get("hostname", ""), tags=tuple(s.get("tags") or ()), paths=tuple(s.get("paths") or ()))
               for s in data or []]
        return sorted(out, key=lambda s: s.time)

    def backup(self, directory: Path, host: str, tags: tuple[str, ...] = ()) -> str:
        """Back up the files of `directory` (paths stored relative to it); returns the snapshot id."""
        args = ["backup", "--json", "--host", host, "--tag", BACKUP_TAG, *[a for t in tags for a in ("--tag", t)], "."]
        proc = self.run(*args, cwd=directory)
        for line in reversed(proc.stdout.splitlines()):
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("message_type") == "summary":
                return message["snapshot_id"]
        raise BackupError(f"restic backup on {self.location} printed no summary")

    def restore(self, snapshot_id: str, target: Path) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        self.run("restore", snapshot_id, "--target", str(target))
        return target

    def forget(self, keep_within_days: int, host: str, prune: bool = True) -> dict:
        """Drop the snapshots older than the retention (never the newest), and their data with prune.

        The tenant's backups are one group (its host): restic's default groups by paths too, and every backup
        has a path of its own (the job's spbe-<time> directory), so each would be the newest of its group and
        nothing would ever go. restic counts the retention back from the group's newest backup."""
        args = ["forget", "--json", "--host", host, "--tag", BACKUP_TAG, "--group-by", "host",
                "--keep-within", f"{keep_within_days}d", "--keep-last", "1"]
        proc = self.run(*args, *(["--prune"] if prune else []))
        removed = 0
        for line in proc.stdout.splitlines():
            try:
                groups = json.loads(line)
            except ValueError:
                continue
            if isinstance(groups, list):
                removed += sum(len(g.get("remove") or []) for g in groups)
        return {"removed": removed}

    def stats(self) -> dict:
        """Bytes stored (after dedup and compression) and the snapshots' restored size."""
        raw = json.loads(self.run("stats", "--json", "--mode", "raw-data").stdout)
        restore = json.loads(self.run("stats", "--json", "--mode", "restore-size").stdout)
        return {"storedBytes": raw.get("total_size", 0), "restoreBytes": restore.get("total_size", 0),
                "snapshots": restore.get("snapshots_count", 0)}


def _missing(stderr: str) -> bool:
    text = stderr.lower()
    return "does not exist" in text or "no such file" in text or "specified key does not exist" in text \
        or "unable to open config file" in text


def _reason(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.lower().startswith(("fatal:", "error:")) or "access denied" in line.lower():
            return line
    return lines[-1] if lines else "no error message"


def _hint(stderr: str) -> str | None:
    text = stderr.lower()
    if "access denied" in text or "forbidden" in text:
        return "this identity may not do that in the store (a tenant's own credentials cannot read or delete)"
    if "wrong password" in text:
        return "the repository's password does not match: is this the platform's master key?"
    if "connection refused" in text or "no such host" in text:
        return "the backup store is not reachable: is it running (spbe cluster status) or is SPBE_BACKUP_STORE right?"
    return None
