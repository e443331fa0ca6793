"""PostgreSQL on the platform side: a throwaway scratch server for drills, and loading a backup into a server.

Uses Debian's PostgreSQL client and server programs (``/usr/lib/postgresql/<major>/bin``), the same
major version or newer than the tenant's (pg_restore reads dumps of older servers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from spbe_kit.backups.job import ROW_COUNTS
from spbe_kit.errors import BackupError


#: a restore through a port-forward may lose its connection when kubectl restarts the forward (it does
#: so after any connection the pod resets); a database is restored again from scratch, this many times
ATTEMPTS = 3


def bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_restore"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise BackupError("PostgreSQL's programs are not installed on this machine", hint="apt-get install postgresql")
    return found[-1].parent


@dataclass(frozen=True)
class Server:
    """How to log in to a PostgreSQL server as a role that may create databases."""

    host: str
    port: int
    user: str
    password: str | None = field(default=None, repr=False)
    sslmode: str = "prefer"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update({"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user, "PGSSLMODE": self.sslmode,
                    "PGCONNECT_TIMEOUT": "30"})
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def run(self, program: str, *args: str, stdin: str | None = None) -> str:
        proc = subprocess.run([str(bin_dir() / program), *args], env=self.env(), input=stdin, capture_output=True,
                              text=True, timeout=6 * 3600)
        if proc.returncode != 0:
            lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            raise BackupError(f"{program} failed: {' | '.join(lines[-3:]) if lines else 'exit ' + str(proc.returncode)}")
        return proc.stdout

    def sql(self, database: str, statement: str) -> str:
        return self.run("psql", f"--dbname={database}", "-Atq", "--set=ON_ERROR_STOP=1", "-c", statement)

    def row_counts(self, database: str) -> str:
        return self.sql(database, ROW_COUNTS)


@contextmanager
def scratch_server(parent: Path | None = None) -> Iterator[Server]:
    """A private PostgreSQL on a Unix socket in a temporary directory, gone afterwards."""
    bins = bin_dir()
    root = Path(tempfile.mkdtemp(prefix="spbe-drill-", dir=parent))
    user_args: dict = {}
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: a nobody-owned directory, run as nobody
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        user_args = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    data = root / "data"

    def run(*argv: str) -> None:
        proc = subprocess.run(list(argv), capture_output=True, text=True, cwd=root, timeout=300, **user_args)
        if proc.returncode != 0:
            raise BackupError(f"the scratch PostgreSQL did not start: {proc.stderr.strip()[-300:]}")

    try:
        run(str(bins / "initdb"), f"--pgdata={data}", "--username=postgres", "--auth=trust", "--no-sync")
        run(str(bins / "pg_ctl"), f"--pgdata={data}", "--wait", "--log", str(root / "server.log"),
            f"--options=-c listen_addresses='' -k {root} -c fsync=off -c full_page_writes=off", "start")
        server = Server(host=str(root), port=5432, user="postgres", sslmode="disable")
        try:
            yield server
        finally:
            subprocess.run([str(bins / "pg_ctl"), f"--pgdata={data}", "--wait", "--mode=immediate", "stop"],
                           capture_output=True, cwd=root, timeout=120, **user_args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _version_num(text: str) -> int:
    """'15.20 (Debian ...)' -> 150020, PostgreSQL's server_version_num."""
    major, _, minor = text.split()[0].partition(".")
    return int(major) * 10000 + int(minor or 0)


def check_version(server: Server, dump: Path) -> None:
    """Refuse a server older than the one that made the dump: a newer minor release may write what an older
    one rejects (a 15.20 dump carries column options 15.18 does not know), half-way through a restore."""
    listing = server.run("pg_restore", "--list", str(dump))
    made_by = next((line.split(":", 1)[1].strip() for line in listing.splitlines()
                    if "Dumped from database version:" in line), None)
    if made_by is None:
        return
    ours = int(server.sql("postgres", "SHOW server_version_num"))
    if ours < _version_num(made_by):
        raise BackupError(f"the PostgreSQL restored into ({ours // 10000}.{ours % 10000}) is older than the tenant's "
                          f"that made the backup ({made_by.split()[0]})",
                          hint="upgrade it to that release or newer (on this machine: apt-get install postgresql-15)")


def load(server: Server, backup: Path, databases: list[str] | None = None) -> dict[str, str]:
    """Load the databases of a restored backup directory into `server` (each replaced whole).

    The roles come first (globals.sql, without passwords; roles that exist stay as they are), then
    every dump is restored with its database, owner and privileges. Returns each database's row
    counts after the load.
    """
    dumps = sorted(backup.glob("*.dump"))
    chosen = [d for d in dumps if databases is None or d.stem in databases]
    if databases is not None and len(chosen) != len(set(databases)):
        missing = sorted(set(databases) - {d.stem for d in dumps})
        raise BackupError(f"the backup holds no dump of {', '.join(missing)}",
                          hint=f"it holds: {', '.join(d.stem for d in dumps) or 'nothing'}")
    for dump in chosen:
        check_version(server, dump)
    existing = set(server.sql("postgres", "SELECT rolname FROM pg_roles").split())
    globals_sql = (backup / "globals.sql").read_text() if (backup / "globals.sql").is_file() else ""
    for line in globals_sql.splitlines():
        if line.startswith("CREATE ROLE "):
            role = line.removeprefix("CREATE ROLE ").rstrip(";").strip('"')
            if role not in existing:
                server.sql("postgres", line)
        elif line.startswith("ALTER ROLE ") and " WITH " in line:
            role = line.removeprefix("ALTER ROLE ").split(" WITH ")[0].strip('"')
            if role not in existing:
                server.sql("postgres", line)
    counts = {}
    for dump in chosen:
        db = dump.stem
        for attempt in range(1, ATTEMPTS + 1):
            # each attempt starts from nothing, so a restore cut off half-way is simply done again
            try:
                server.sql("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                server.run("pg_restore", "--create", "--exit-on-error", "--dbname=postgres", str(dump))
                counts[db] = server.row_counts(db)
                break
            except BackupError:
                if attempt == ATTEMPTS:
                    raise
                time.sleep(2 * attempt)
    return counts
