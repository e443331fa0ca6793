"""The Pulumi backend's own stack locks: who holds one, and removing it only when its holder is gone.

The CLI's DIY backends (a file directory, or PostgreSQL, which stores the same files as rows
of a key/value table: key ``<database>/.pulumi/...``, value ``{"data": "<base64 of the file>"}``)
write ``.pulumi/locks/organization/<project>/<stack>/<id>.json`` with
the holder's pid, user, host and start time while an update runs. A run killed with
``kill -9`` leaves its lock behind. Such a lock is removed only when its owner is *proven*
gone: written on this host, by a process that no longer exists. A lock from another host,
or from a live process, is never touched; the caller names its holder instead.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from spbe_kit.provision import file_backend

LOCK_PREFIX = ".pulumi/locks/organization"


@dataclass(frozen=True)
class StackLock:
    """One lock file of a stack, as the CLI wrote it."""

    key: str
    pid: int
    username: str
    hostname: str
    timestamp: str

    @property
    def holder(self) -> str:
        return f"{self.username}@{self.hostname} (pid {self.pid}, since {self.timestamp})"

    def owner_gone(self) -> bool:
        """True only when the lock was written on this host by a process that no longer runs."""
        if self.hostname != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # it exists, owned by someone else
        return False

    def orphaned_here(self) -> bool:
        """True when the holder runs on this host but its parent is gone (reparented to PID 1): the engine
        process of a run whose `spbe` was killed, which unlocks by itself once it notices."""
        if self.hostname != socket.gethostname() or self.pid <= 0:
            return False
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return False
        ppid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "")
        return ppid == "1"


def _parse(key: str, raw: bytes | str) -> StackLock | None:
    try:
        data = json.loads(raw)
        return StackLock(key, int(data.get("pid", 0)), str(data.get("username", "?")),
                         str(data.get("hostname", "?")), str(data.get("timestamp", "?")))
    except (ValueError, TypeError, AttributeError):
        return None


def redact_url(url: str) -> str:
    """The backend URL with any password masked (postgres://user:****@host/db)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "")
    return urlunsplit(parts._replace(netloc=f"{user}:****@{netloc[-1]}"))


class LockStore:
    """Lists and removes one stack's lock files in a backend (file:// or postgres://)."""

    def __init__(self, backend_url: str, project: str) -> None:
        self.url = backend_url
        self.project = project

    def _prefix(self, stack: str) -> str:
        return f"{LOCK_PREFIX}/{self.project}/{stack}/"

    # --- file backend -------------------------------------------------------------------
    def _file_root(self) -> Path:
        root = file_backend.backend_dir(self.url)
        assert root is not None
        return root

    # --- postgres backend ---------------------------------------------------------------
    def _pg(self):  # -> (connection, table)
        import psycopg2

        parts = urlsplit(self.url)
        query = parse_qs(parts.query)
        table = query.pop("table", ["pulumi_state"])[0]
        dsn_query = "&".join(f"{k}={v[0]}" for k, v in query.items())
        dsn = urlunsplit(parts._replace(scheme="postgresql", query=dsn_query))
        return psycopg2.connect(dsn, connect_timeout=10), table

    def locks(self, stack: str) -> list[StackLock]:
        """Every lock of ``stack`` (unparseable ones are skipped: they are not ours to judge)."""
        prefix = self._prefix(stack)
        found: list[StackLock] = []
        if self.url.startswith("file://"):
            folder = self._file_root() / prefix
            for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                try:
                    lock = _parse(prefix + path.name, path.read_bytes())
                except OSError:
                    continue
                if lock:
                    found.append(lock)
        elif self.url.startswith(("postgres://", "postgresql://")):
            conn, table = self._pg()
            try:
                with conn, conn.cursor() as cur:
                    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
                    if not cur.fetchone()[0]:
                        return []  # a new backend: the CLI creates its table on first use
                    cur.execute(f'SELECT key, data->>\'data\' FROM "{table}" WHERE key LIKE %s ORDER BY key',
                                ("%" + prefix.replace("_", r"\_") + "%",))
                    for key, data in cur.fetchall():
                        try:
                            lock = _parse(key, base64.b64decode(data or ""))
                        except ValueError:
                            lock = None
                        if lock:
                            found.append(lock)
            finally:
                conn.close()
        return found

    def remove(self, lock: StackLock) -> None:
        if self.url.startswith("file://"):
            path = self._file_root() / lock.key
            path.unlink(missing_ok=True)
            path.with_name(path.name + file_backend.SIDECAR).unlink(missing_ok=True)
        elif self.url.startswith(("postgres://", "postgresql://")):
            conn, table = self._pg()
            try:
                with conn, conn.cursor() as cur:
                    cur.execute(f'DELETE FROM "{table}" WHERE key = %s', (lock.key,))
            finally:
                conn.close()
