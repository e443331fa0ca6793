"""The spbe_eoffice role: configuration wired to a real database login; refuses to write a broken one."""

from __future__ import annotations

import secrets
import socket
import stat
import threading

import pytest

from .ansible_run import run_playbook


@pytest.fixture(scope="module")
def relay():
    """Something answering on a TCP port, standing in for the relay's reachability (the role only connects)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


@pytest.fixture(scope="module")
def setup(postgres_server, relay, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eoffice")
    db_password = secrets.token_urlsafe(24)
    database = run_playbook("database.yml", {
        "spbe_database_login_host": postgres_server.host, "spbe_database_login_port": postgres_server.port,
        "spbe_database_login_password": postgres_server.password,
        "spbe_database_apps": [{"name": "eoffice", "password": db_password}],
        "spbe_database_backup_password": secrets.token_urlsafe(24),
        "spbe_database_hba_file": str(postgres_server.hba_file), "spbe_database_hba_owner": postgres_server.owner,
    }, tmp)
    assert database.rc == 0, database.output[-2000:]
    variables = {
        "spbe_eoffice_tenant": "kab-banyuwangi", "spbe_eoffice_domain": "banyuwangikab.go.id",
        "spbe_eoffice_config_dir": str(tmp / "etc"), "spbe_eoffice_oidc_client_secret": secrets.token_urlsafe(24),
        "spbe_eoffice_db_host": postgres_server.host, "spbe_eoffice_db_port": postgres_server.port,
        "spbe_eoffice_db_password": db_password, "spbe_eoffice_smtp_host": "127.0.0.1", "spbe_eoffice_smtp_port": relay,
    }
    runs = [run_playbook("eoffice.yml", variables, tmp, check=True), run_playbook("eoffice.yml", variables, tmp),
            run_playbook("eoffice.yml", variables, tmp)]
    return variables, runs, tmp


def test_check_mode_then_two_runs_converge(setup):
    _, (check, first, second), tmp = setup
    assert check.rc == 0, check.output[-3000:]
    assert first.rc == 0 and first.changed > 0, first.output[-3000:]
    assert second.rc == 0 and second.changed == 0, second.output[-3000:]


def test_the_configuration_wires_identity_database_and_mail(setup):
    variables, _, tmp = setup
    path = tmp / "etc" / "eoffice.env"
    env = dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    assert env["EOFFICE_OIDC_ISSUER"] == "https://sso.banyuwangikab.go.id/realms/kab-banyuwangi"
    assert env["EOFFICE_DB_SSLMODE"] == "require" and env["EOFFICE_DB_PASSWORD"] == variables["spbe_eoffice_db_password"]
    assert env["EOFFICE_SMTP_PORT"] == str(variables["spbe_eoffice_smtp_port"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_secrets_never_reach_the_output(setup):
    variables, runs, _ = setup
    for run in runs:
        assert variables["spbe_eoffice_db_password"] not in run.output
        assert variables["spbe_eoffice_oidc_client_secret"] not in run.output


def test_a_wrong_database_password_fails_before_anything_is_written(setup, tmp_path):
    variables, _, _ = setup
    bad = dict(variables, spbe_eoffice_db_password="w" * 24, spbe_eoffice_config_dir=str(tmp_path / "etc"))
    result = run_playbook("eoffice.yml", bad, tmp_path)
    assert result.rc != 0 and not (tmp_path / "etc").exists()


def test_an_unreachable_relay_fails_the_run(setup, tmp_path):
    variables, _, _ = setup
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    bad = dict(variables, spbe_eoffice_smtp_port=closed_port, spbe_eoffice_config_dir=str(tmp_path / "etc"))
    result = run_playbook("eoffice.yml", bad, tmp_path)
    assert result.rc != 0 and not (tmp_path / "etc").exists()
