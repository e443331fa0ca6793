"""A real backup store (SeaweedFS, built from its Go module) and a real PostgreSQL, both started here.

The store runs on free ports of 127.0.0.1 in a temporary directory, exactly as `spbe cluster up`
runs the local one (spbe_kit.devenv.backupstore), and is stopped after the module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from spbe_kit.backups.job import BACKUP_SCRIPT
from spbe_kit.backups.store import StoreSettings, TenantKeys, master_key
from spbe_kit.devenv import backupstore
from tests.services import PostgresServer, free_port, start_postgres, stop_postgres

BACKUP_ROLE = "spbe_backup"
BACKUP_PASSWORD = "backup-pw-for-tests"


def _free_store_ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    while len(ports) < 4:
        port = free_port()
        if port + 10000 <= 65535 and port not in ports.values():
            ports[list(backupstore.DEFAULT_PORTS)[len(ports)]] = port
    return ports


@pytest.fixture(scope="session")
def store() -> StoreSettings:
    root = Path(tempfile.mkdtemp(prefix="spbe-test-store-"))
    layout = backupstore.StoreLayout(root=root, ports=_free_store_ports())
    settings = backupstore.up(lambda line: print(line, flush=True), build=True, layout=layout)
    yield settings
    backupstore.down(layout)
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class Tenant:
    """A tenant's PostgreSQL databases on the test server, and how its job logs in."""

    tenant_id: str
    server: PostgresServer
    databases: tuple[str, ...]
    backup_password: str

    def connect(self, database: str):
        return psycopg2.connect(self.server.dsn(dbname=database))


@pytest.fixture(scope="session")
def servers():
    """Starts a PostgreSQL per tenant (as the cluster gives each tenant its own); all stopped at the end."""
    started: list[tuple[PostgresServer, Path]] = []

    def start() -> PostgresServer:
        root = Path(tempfile.mkdtemp(prefix="spbe-test-backup-postgres-"))
        server = start_postgres(root)
        with psycopg2.connect(server.dsn()) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE ROLE {BACKUP_ROLE} LOGIN PASSWORD %s IN ROLE pg_read_all_data", (BACKUP_PASSWORD,))
        started.append((server, root))
        return server

    yield start
    for server, root in started:
        stop_postgres(server)
        shutil.rmtree(root, ignore_errors=True)


def make_tenant(server: PostgresServer, tenant_id: str, rows: int) -> Tenant:
    """The tenant's two app databases (owned by their own roles) with some tables and `rows` rows."""
    databases = ("identity", "eoffice")
    conn = psycopg2.connect(server.dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        for db in databases:
            cur.execute(f"CREATE ROLE {db} LOGIN")
            cur.execute(f"CREATE DATABASE {db} OWNER {db}")
    conn.close()
    for db in databases:
        with psycopg2.connect(server.dsn(dbname=db)) as c, c.cursor() as cur:
            cur.execute(f"SET ROLE {db}")
            cur.execute("CREATE TABLE letters (id serial PRIMARY KEY, subject text NOT NULL, body text)")
            cur.execute("CREATE TABLE audit (at timestamptz DEFAULT now(), who text)")
            cur.execute("INSERT INTO letters (subject, body) SELECT 'surat ' || g, repeat('isi ', mod(g, 50)) "
                        "FROM generate_series(1, %s) g", (rows,))
            cur.execute("INSERT INTO audit (who) SELECT 'user' || g FROM generate_series(1, %s) g", (rows // 3,))
    return Tenant(tenant_id, server, databases, BACKUP_PASSWORD)


def run_job(store: StoreSettings, tenant: Tenant, keys: TenantKeys, work: Path) -> subprocess.CompletedProcess:
    """The tenant's backup job script, as the cluster runs it, against these services."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "pg-password").write_text(tenant.backup_password)
    (work / "restic-password").write_text(keys.repository_password)
    for f in ("pg-password", "restic-password"):
        (work / f).chmod(0o600)
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "SPBE_TENANT": tenant.tenant_id,
           "SPBE_BACKUP_WORK": str(work / "scratch"),
           "PGHOST": tenant.server.host, "PGPORT": str(tenant.server.port), "PGUSER": BACKUP_ROLE,
           "PGSSLMODE": "require", "PGPASSWORD_FILE": str(work / "pg-password"),
           "RESTIC_REPOSITORY": store.repository(tenant.tenant_id),
           "RESTIC_PASSWORD_FILE": str(work / "restic-password"),
           "AWS_ACCESS_KEY_ID": keys.store.access_key, "AWS_SECRET_ACCESS_KEY": keys.store.secret_key}
    return subprocess.run(["bash", "-c", BACKUP_SCRIPT], env=env, capture_output=True, text=True, timeout=600)


def keys_of(store: StoreSettings, tenant_id: str) -> TenantKeys:
    return master_key(store).tenant(tenant_id)
