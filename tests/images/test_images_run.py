"""Every baseline image runs as its pod would: uid 10001, read-only root, the pod spec's env,
args and mounts (from the desired state), and answers on its port."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request

import pytest

from spbe_kit.devenv import runc

from .pods import start_like_pod, tenant_state


@pytest.fixture(scope="module")
def state():
    return tenant_state()


def _http(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _hardened(container: runc.Container) -> None:
    ident = container.exec("id", "-u")
    assert ident.stdout.strip() == "10001", ident
    write = container.exec("sh", "-c", "touch /usr/spbe-test")
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write


def _psql(url: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(["psql", url, "-Atc", sql], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def database(state, built, tmp_path_factory):
    run = start_like_pod(state, "database", built("postgres"), tmp_path_factory.mktemp("database"))
    password = run.secrets["database-superuser"]["password"]
    url = f"postgresql://postgres:{password}@127.0.0.1:5432/postgres"

    def ready():
        return _psql(url + "?sslmode=require", "select 1").returncode == 0

    try:
        runc.wait_until(ready, 120, run.container, "PostgreSQL accepting logins")
        yield run, url
    finally:
        run.container.stop()


def test_postgres_accepts_tls_logins_only(database):
    run, url = database
    _hardened(run.container)
    tls = _psql(url + "?sslmode=require", "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()")
    assert tls.returncode == 0 and tls.stdout.startswith("t|TLSv1."), tls
    plain = _psql(url + "?sslmode=disable", "select 1")
    assert plain.returncode != 0 and "no encryption" in plain.stderr, plain
    wrong = _psql(url.replace(":5432", ":5432").replace("postgres:", "postgres:wrong", 1) + "?sslmode=require", "select 1")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    # the pod's probes run in the container: the tools must be on its PATH
    probe = run.container.exec("pg_isready", "--host=127.0.0.1", "--username=postgres")
    assert probe.returncode == 0, probe


def test_postgres_backup_tools_of_the_cronjobs_are_in_the_image(database):
    run, _ = database
    for tool in ("pg_dumpall", "initdb", "pg_ctl", "psql", "gzip", "find"):
        found = run.container.exec("sh", "-c", f"command -v {tool}")
        assert found.returncode == 0, f"{tool} missing: the backup/restore-check jobs run it"


def test_prometheus_is_ready_with_the_tenants_configuration(state, built, tmp_path):
    run = start_like_pod(state, "prometheus", built("prometheus"), tmp_path)
    try:
        runc.wait_until(lambda: _http("http://127.0.0.1:9090/-/ready")[0] == 200, 90, run.container,
                        "Prometheus /-/ready")
        _hardened(run.container)
        status, body = _http("http://127.0.0.1:9090/api/v1/status/config")
        loaded = json.loads(body)["data"]["yaml"]
        assert status == 200 and "/etc/prometheus-rules/*.yml" in loaded and "job_name: identity" in loaded, loaded
        # the rules the tenant's ConfigMap carries are loaded
        status, body = _http("http://127.0.0.1:9090/api/v1/rules")
        assert status == 200 and json.loads(body)["data"]["groups"], body[:500]
    finally:
        run.container.stop()


def test_keycloak_starts_on_the_tenants_database_and_reports_healthy(state, built, database, tmp_path):
    db, superuser_url = database
    password = "identity-" + tmp_path.name[-8:]
    for sql in (f"create role identity login password '{password}'", "create database identity owner identity"):
        result = _psql(superuser_url + "?sslmode=require", sql)
        assert result.returncode == 0, result.stderr
    run = start_like_pod(state, "identity", built("keycloak"), tmp_path,
                         secret_values={"database-identity": {"password": password}},
                         env_override={"KC_CACHE": "local"})  # one replica here: no cluster to discover
    try:
        runc.wait_until(lambda: _http("http://127.0.0.1:9000/health/ready")[0] == 200, 300, run.container,
                        "Keycloak /health/ready")
        _hardened(run.container)
        status, body = _http("http://127.0.0.1:9000/health/ready")
        assert json.loads(body)["status"] == "UP"
        status, body = _http("http://127.0.0.1:8080/realms/master/.well-known/openid-configuration")
        assert status == 200 and json.loads(body)["issuer"].endswith("/realms/master")
        tables = _psql(superuser_url.rsplit("/", 1)[0] + "/identity?sslmode=require",
                       "select count(*) from information_schema.tables where table_schema = 'public'")
        assert int(tables.stdout.strip()) > 50, "Keycloak did not create its schema in the tenant database"
    finally:
        run.container.stop()
