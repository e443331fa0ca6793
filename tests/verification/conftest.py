"""A whole tenant's components on this machine, configured by the roles, as `spbe verify` targets.

E-office is Mayan EDMS: its checks run against the e-office image itself (tests/images).

In CI the hosts are local:// (testinfra's local backend); in production `spbe verify REQUEST`
finds each component's pod and runs the same suite through testinfra's kubectl backend.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.roles.ansible_run import run_playbook

TENANT = "kab-banyuwangi"
DOMAIN = "banyuwangikab.go.id"


@dataclass
class LocalTenant:
    targets: dict
    path: Path
    paths: dict  # files the tests tamper with
    secrets: list  # passwords and client secrets the roles were given: never in a report

    def write(self, targets: dict | None = None) -> Path:
        self.path.write_text(json.dumps(targets or self.targets))
        return self.path


@pytest.fixture(scope="session")
def local_tenant(postgres_server, prometheus_server, mail_host, keycloak_server, tmp_path_factory) -> LocalTenant:
    tmp = tmp_path_factory.mktemp("verify")
    db_passwords = {"identity": secrets.token_urlsafe(24), "eoffice": secrets.token_urlsafe(24)}
    database = run_playbook("database.yml", {
        "spbe_database_login_host": postgres_server.host, "spbe_database_login_port": postgres_server.port,
        "spbe_database_login_password": postgres_server.password,
        "spbe_database_apps": [{"name": n, "password": p} for n, p in db_passwords.items()],
        "spbe_database_backup_password": secrets.token_urlsafe(24),
        "spbe_database_hba_file": str(postgres_server.hba_file), "spbe_database_hba_owner": postgres_server.owner,
    }, tmp)
    assert database.rc == 0, database.output[-2000:]
    monitoring = run_playbook("monitoring.yml", {
        "spbe_monitoring_tenant": TENANT, "spbe_monitoring_config_dir": str(prometheus_server.config_dir),
        "spbe_monitoring_rules_dir": str(prometheus_server.config_dir / "rules"),
        "spbe_monitoring_targets": [{"job": "prometheus", "targets": [f"127.0.0.1:{prometheus_server.port}"]}],
        "spbe_monitoring_prometheus_url": prometheus_server.url,
    }, tmp)
    assert monitoring.rc == 0, monitoring.output[-2000:]
    host, (_, mail_run, _), _ = mail_host
    assert mail_run.rc == 0, mail_run.output[-2000:]
    client_secrets = {c: secrets.token_urlsafe(32) for c in ("eoffice", "grafana", "webmail")}
    identity = run_playbook("identity.yml", {
        "spbe_identity_tenant": TENANT, "spbe_identity_domain": DOMAIN, "spbe_identity_url": keycloak_server.url,
        "spbe_identity_admin_user": keycloak_server.admin_user, "spbe_identity_admin_password": keycloak_server.admin_password,
        "spbe_identity_client_secrets": client_secrets,
    }, tmp)
    assert identity.rc == 0, identity.output[-2000:]
    # the backup job's output: a real dump of the e-office database
    backups = tmp / "backups"
    backups.mkdir()
    dump = backups / "eoffice.pgc"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", postgres_server.dsn(dbname="eoffice")],
                   check=True, capture_output=True)

    v = host.variables
    targets = {"tenant": TENANT, "targets": {
        "database": {"host": "local://", "facts": {
            "port": postgres_server.port, "listen_address": "127.0.0.1", "hba_file": str(postgres_server.hba_file),
            "hba_owner": postgres_server.owner, "server_key": str(postgres_server.data / "server.key"),
            "backup_dir": str(backups)}},
        "identity": {"host": "local://", "facts": {
            "realm": TENANT, "http_port": int(keycloak_server.url.rsplit(":", 1)[1]), "management_port": keycloak_server.management_port,
            "listen_address": "127.0.0.1"}},
        "mail": {"host": "local://", "facts": {
            "smtp_port": host.smtp_port, "submission_port": host.submission_port, "imaps_port": host.imaps_port,
            "listen_address": "127.0.0.1", "postfix_config_dir": v["spbe_mail_postfix_config_dir"],
            "dovecot_config_dir": v["spbe_mail_dovecot_config_dir"],
            "users_file": f"{v['spbe_mail_dovecot_config_dir']}/users",
            "dkim_key_file": f"{v['spbe_mail_dkim_dir']}/spbe2026.private", "tls_key_file": v["spbe_mail_tls_key_file"]}},
        "monitoring": {"host": "local://", "facts": {
            "tenant": TENANT, "port": prometheus_server.port, "listen_address": "127.0.0.1",
            "config_file": str(prometheus_server.config_dir / "prometheus.yml"),
            "rules_file": str(prometheus_server.config_dir / "rules" / "spbe-tenant.yml")}},
    }}
    paths = {"hba": postgres_server.hba_file, "master_cf": Path(v["spbe_mail_postfix_config_dir"]) / "master.cf", "dkim": Path(v["spbe_mail_dkim_dir"]) / "spbe2026.private",
             "dump": dump}
    given = [*db_passwords.values(), *client_secrets.values(), postgres_server.password,
             *(b["password"] for b in host.variables["spbe_mail_mailboxes"])]
    return LocalTenant(targets, tmp / "targets.json", paths, given)
