"""The spbe_database role against a real PostgreSQL: idempotent, check-mode safe, proven through the server."""

from __future__ import annotations

import secrets
import stat

import psycopg2
import pytest

from .ansible_run import run_playbook

APPS = ["identity", "eoffice"]


@pytest.fixture(scope="module")
def credentials():
    return {app: secrets.token_urlsafe(24) for app in APPS} | {"spbe_backup": secrets.token_urlsafe(24)}


def role_vars(server, credentials) -> dict:
    return {
        "spbe_database_login_host": server.host,
        "spbe_database_login_port": server.port,
        "spbe_database_login_password": server.password,
        "spbe_database_apps": [{"name": app, "password": credentials[app]} for app in APPS],
        "spbe_database_backup_password": credentials["spbe_backup"],
        "spbe_database_hba_file": str(server.hba_file),
        "spbe_database_hba_owner": server.owner,
    }


@pytest.fixture(scope="module")
def converged(postgres_server, credentials, tmp_path_factory):
    """Check mode on the fresh server, then two real runs; returns the three runs."""
    tmp = tmp_path_factory.mktemp("ansible")
    variables = role_vars(postgres_server, credentials)
    check = run_playbook("database.yml", variables, tmp, check=True)
    first = run_playbook("database.yml", variables, tmp)
    second = run_playbook("database.yml", variables, tmp)
    return check, first, second


def _connect(server, user, password, dbname, sslmode="require"):
    return psycopg2.connect(server.dsn(user, password, dbname, sslmode))


def test_check_mode_on_a_fresh_server_changes_nothing(converged):
    check, first, _ = converged
    assert check.rc == 0 and check.failed == 0, check.output[-3000:]
    assert first.changed > 0, "the real run after check mode still had everything to do"


def test_a_second_run_changes_nothing(converged):
    _, first, second = converged
    assert first.rc == 0, first.output[-3000:]
    assert second.rc == 0 and second.changed == 0, second.output[-3000:]


def test_no_password_appears_in_the_output(converged, credentials, postgres_server):
    for run in converged:
        for secret in [*credentials.values(), postgres_server.password]:
            assert secret not in run.output


def test_each_app_reaches_its_own_database_over_tls_and_nothing_else(converged, postgres_server, credentials):
    with _connect(postgres_server, "identity", credentials["identity"], "identity") as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE pid = pg_backend_pid()")
        assert cur.fetchone() == ("identity", True)
        cur.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False)
    with pytest.raises(psycopg2.OperationalError, match="no pg_hba.conf entry"):
        _connect(postgres_server, "identity", credentials["identity"], "eoffice")
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        _connect(postgres_server, "identity", credentials["identity"], "identity", sslmode="disable")


def test_the_backup_role_reads_every_app_database_but_writes_nothing(converged, postgres_server, credentials):
    with _connect(postgres_server, "eoffice", credentials["eoffice"], "eoffice") as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS letters (id serial PRIMARY KEY, subject text)")
        cur.execute("INSERT INTO letters (subject) SELECT 'surat ' || g FROM generate_series(1, 25) g")
    with _connect(postgres_server, "spbe_backup", credentials["spbe_backup"], "eoffice") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM letters")
        assert cur.fetchone()[0] >= 25
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("INSERT INTO letters (subject) VALUES ('forged')")


def test_pg_hba_is_written_private_and_tls_only(converged, postgres_server):
    mode = stat.S_IMODE(postgres_server.hba_file.stat().st_mode)
    text = postgres_server.hba_file.read_text()
    assert mode == 0o640
    assert "hostnossl all       all   0.0.0.0/0  reject" in text
    assert "\nhost " not in text  # no plain-TCP entry at all


def test_the_restore_check_restores_the_dump_with_identical_row_counts(converged, postgres_server, tmp_path):
    variables = {"spbe_database_login_host": postgres_server.host, "spbe_database_login_port": postgres_server.port,
                 "spbe_database_login_password": postgres_server.password, "spbe_database_restore_source_db": "eoffice",
                 "spbe_database_restore_work_dir": str(tmp_path / "dumps")}
    first = run_playbook("database_restore_check.yml", variables, tmp_path)
    assert first.rc == 0, first.output[-3000:]
    assert "with identical row counts" in first.output
    again = run_playbook("database_restore_check.yml", variables, tmp_path)
    assert again.rc == 0 and again.changed == 0
    with _connect(postgres_server, "postgres", postgres_server.password, "postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = 'spbe_restore_check'")
        assert cur.fetchone()[0] == 0, "the scratch database is dropped afterwards"


def test_a_broken_dump_fails_the_restore_check(converged, postgres_server, tmp_path):
    broken = tmp_path / "broken.pgc"
    broken.write_bytes(b"PGDMP" + b"\0" * 64)
    variables = {"spbe_database_login_host": postgres_server.host, "spbe_database_login_port": postgres_server.port,
                 "spbe_database_login_password": postgres_server.password, "spbe_database_restore_source_db": "eoffice",
                 "spbe_database_restore_dump": str(broken)}
    result = run_playbook("database_restore_check.yml", variables, tmp_path)
    assert result.rc != 0 and result.failed == 1
    with _connect(postgres_server, "postgres", postgres_server.password, "postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = 'spbe_restore_check'")
        assert cur.fetchone()[0] == 0
