"""Verification targets: the real services after the roles configured them.

In CI the `host` fixture (pytest-testinfra) is this machine; in production the same tests
run with `--hosts=kubectl://POD?namespace=TENANT` against the tenant's pods.
"""

from __future__ import annotations

import secrets

import pytest

from tests.roles.ansible_run import run_playbook


@pytest.fixture(scope="module")
def database(postgres_server, tmp_path_factory):
    variables = {
        "spbe_database_login_host": postgres_server.host, "spbe_database_login_port": postgres_server.port,
        "spbe_database_login_password": postgres_server.password,
        "spbe_database_apps": [{"name": "identity", "password": secrets.token_urlsafe(24)}],
        "spbe_database_backup_password": secrets.token_urlsafe(24),
        "spbe_database_hba_file": str(postgres_server.hba_file), "spbe_database_hba_owner": postgres_server.owner,
    }
    result = run_playbook("database.yml", variables, tmp_path_factory.mktemp("verify-db"))
    assert result.rc == 0, result.output[-2000:]
    return postgres_server


@pytest.fixture(scope="module")
def monitoring(prometheus_server, tmp_path_factory):
    variables = {
        "spbe_monitoring_tenant": "kab-banyuwangi",
        "spbe_monitoring_config_dir": str(prometheus_server.config_dir),
        "spbe_monitoring_rules_dir": str(prometheus_server.config_dir / "rules"),
        "spbe_monitoring_targets": [{"job": "prometheus", "targets": [f"127.0.0.1:{prometheus_server.port}"]}],
        "spbe_monitoring_prometheus_url": prometheus_server.url,
    }
    result = run_playbook("monitoring.yml", variables, tmp_path_factory.mktemp("verify-mon"))
    assert result.rc == 0, result.output[-2000:]
    return prometheus_server
