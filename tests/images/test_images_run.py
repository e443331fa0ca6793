"""Every baseline image runs as its pod would: uid 10001, read-only root, the pod spec's env,
args and mounts (from the desired state), and answers on its port."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import urllib.parse
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


KEYCLOAK_HTTP = 18080  # e-office listens on 8080 too: on one host network, Keycloak moves aside


def _create_database(superuser_url: str, name: str, password: str) -> None:
    for sql in (f"create role {name} login password '{password}'", f"create database {name} owner {name}"):
        result = _psql(superuser_url + "?sslmode=require", sql)
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def identity(state, built, database, tmp_path_factory):
    """The Keycloak image on the tenant's database, as the identity pod runs it."""
    _, superuser_url = database
    password = "identity-" + tmp_path_factory.mktemp("pw").name[-6:]
    _create_database(superuser_url, "identity", password)
    run = start_like_pod(state, "identity", built("keycloak"), tmp_path_factory.mktemp("identity"),
                         secret_values={"database-identity": {"password": password}},
                         env_override={"KC_CACHE": "local", "KC_HTTP_PORT": str(KEYCLOAK_HTTP)})
    try:
        runc.wait_until(lambda: _http("http://127.0.0.1:9000/health/ready")[0] == 200, 300, run.container,
                        "Keycloak /health/ready")
        yield run
    finally:
        run.container.stop()


def test_keycloak_starts_on_the_tenants_database_and_reports_healthy(identity, database):
    _, superuser_url = database
    _hardened(identity.container)
    status, body = _http("http://127.0.0.1:9000/health/ready")
    assert status == 200 and json.loads(body)["status"] == "UP"
    status, body = _http(f"http://127.0.0.1:{KEYCLOAK_HTTP}/realms/master/.well-known/openid-configuration")
    assert status == 200 and json.loads(body)["issuer"].endswith("/realms/master")
    tables = _psql(superuser_url.rsplit("/", 1)[0] + "/identity?sslmode=require",
                   "select count(*) from information_schema.tables where table_schema = 'public'")
    assert int(tables.stdout.strip()) > 50, "Keycloak did not create its schema in the tenant database"


def _keycloak_admin(identity, method: str, path: str, body: dict | None = None) -> int:
    """One call of Keycloak's admin API with the bootstrap admin the pod was given."""
    base = f"http://127.0.0.1:{KEYCLOAK_HTTP}"
    form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "spbe-admin",
                                   "password": identity.secrets["identity-admin"]["password"]}).encode()
    with urllib.request.urlopen(f"{base}/realms/master/protocol/openid-connect/token", form, timeout=30) as resp:
        token = json.load(resp)["access_token"]
    request = urllib.request.Request(f"{base}/admin{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return resp.status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_eoffice_is_mayan_on_the_tenants_database_and_logs_in_through_keycloak(state, built, database, identity,
                                                                                tmp_path):
    _, superuser_url = database
    tenant = state.tenant_id
    eoffice_password = "eoffice-" + tmp_path.name[-6:]
    _create_database(superuser_url, "eoffice", eoffice_password)
    client_secret = "client-" + tmp_path.name[-6:]
    pod = state.get("Deployment", "eoffice").body["spec"]["template"]["spec"]["containers"][0]
    host = next(h["value"] for h in pod["readinessProbe"]["httpGet"]["httpHeaders"] if h["name"] == "Host")
    # what the spbe_identity role sets up: the tenant's realm and the e-office client
    assert _keycloak_admin(identity, "POST", "/realms", {"realm": tenant, "enabled": True}) == 201
    assert _keycloak_admin(identity, "POST", f"/realms/{tenant}/clients", {
        "clientId": "eoffice", "secret": client_secret, "publicClient": False, "standardFlowEnabled": True,
        "redirectUris": [f"https://{host}/*"]}) == 201
    data = tmp_path / "eoffice-data"
    data.mkdir()
    os.chown(data, 10001, 10001)
    arguments = next(e["value"] for e in pod["env"] if e["name"] == "MAYAN_AUTHENTICATION_BACKEND_ARGUMENTS")
    run = start_like_pod(
        state, "eoffice", built("eoffice"), tmp_path, host_dirs={"data": data},
        secret_values={"database-eoffice": {"password": eoffice_password},
                       "eoffice-oidc": {"client-secret": client_secret}},
        env_override={"MAYAN_AUTHENTICATION_BACKEND_ARGUMENTS": arguments.replace(
            "identity:8080", f"identity:{KEYCLOAK_HTTP}").replace("$(SPBE_OIDC_CLIENT_SECRET)", client_secret)})
    opener = urllib.request.build_opener(_NoRedirect)

    def get(path: str):
        # as the ingress forwards it: TLS ended there
        request = urllib.request.Request(f"http://127.0.0.1:8080{path}",
                                         headers={"Host": host, "X-Forwarded-Proto": "https"})
        try:
            with opener.open(request, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode(errors="replace")

    try:
        runc.wait_until(lambda: get("/authentication/login/")[0] in (200, 302), 600, run.container,
                        "Mayan's login page")
        _hardened(run.container)
        status, headers, body = get("/authentication/login/")
        discovery = json.loads(_http(f"http://127.0.0.1:{KEYCLOAK_HTTP}/realms/{tenant}/.well-known/openid-configuration")[1])
        if status == 200:  # a page with the OIDC sign-in; its action starts the redirect
            status, headers, body = get("/oidc/authenticate/")
        assert status == 302, (status, body[:800])
        location = headers["Location"]
        assert location.startswith(discovery["authorization_endpoint"]), location
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        assert query["client_id"] == ["eoffice"] and query["response_type"] == ["code"], location
        # the callback the identity role registers for the e-office client is the one Mayan sends
        from spbe_kit.configure.plan import MAYAN_OIDC_CALLBACK

        assert query["redirect_uri"] == [f"https://{host}{MAYAN_OIDC_CALLBACK}"], location
        tables = _psql(superuser_url.rsplit("/", 1)[0] + "/eoffice?sslmode=require",
                       "select count(*) from information_schema.tables where table_schema = 'public'")
        assert int(tables.stdout.strip()) > 100, "Mayan did not create its schema in the tenant database"
        processes = run.container.exec("sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
        assert "celery" in processes and "gunicorn" in processes and "redis-server" in processes
    finally:
        run.container.stop()


def _mail_user(folder, domain: str, user: str, password: str):
    """A Dovecot passwd-file with one mailbox, as the spbe_mail role writes it (SHA512-CRYPT)."""
    from passlib.hash import sha512_crypt

    folder.mkdir(parents=True, exist_ok=True)
    users = folder / "users"
    users.write_text(f"{user}@{domain}:{{SHA512-CRYPT}}{sha512_crypt.hash(password)}\n")
    users.chmod(0o444)
    folder.chmod(0o755)
    return folder


def test_mail_submits_over_tls_only_signs_with_dkim_and_delivers_to_imaps(state, built, tmp_path):
    import email
    import imaplib
    import smtplib

    import dkim

    pod = state.get("StatefulSet", "mail").body["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in pod["env"]}
    domain = env["MAIL_DOMAIN"]
    data = tmp_path / "mail-data"
    data.mkdir()
    os.chown(data, 10001, 10001)
    managed = _mail_user(tmp_path / "managed", domain, "aptika", "rahasia-aptika-2026")
    # the role's files, where the image reads them (read-only, beside the pod's own volumes)
    run = start_like_pod(state, "mail", built("mail"), tmp_path, host_dirs={"data": data},
                         extra_mounts=[runc.Mount("/etc/spbe-mail", managed, read_only=True)])
    container = run.container
    try:
        def answers():
            with smtplib.SMTP("127.0.0.1", 8587, timeout=5) as s:
                return s.ehlo()[0] == 250
        runc.wait_until(answers, 90, container, "submission port")
        _hardened(container)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", 8587, timeout=10) as s:
            s.ehlo()
            assert "auth" not in s.esmtp_features, "login offered before TLS"
            assert s.has_extn("starttls")
            code, _ = s.mail(f"aptika@{domain}")
            assert code >= 500, "submission accepted mail without TLS and login"
        with smtplib.SMTP("127.0.0.1", 8587, timeout=10) as s:
            s.starttls(context=context)
            s.ehlo()
            with pytest.raises(smtplib.SMTPAuthenticationError):
                s.login(f"aptika@{domain}", "wrong")
        message = (f"From: aptika@{domain}\r\nTo: aptika@{domain}\r\nSubject: Surat Dinas 001\r\n"
                   f"Message-ID: <001@{domain}>\r\nDate: Tue, 01 Dec 2026 09:00:00 +0700\r\n\r\nIsi surat.\r\n")
        with smtplib.SMTP("127.0.0.1", 8587, timeout=10) as s:
            s.starttls(context=context)
            s.login(f"aptika@{domain}", "rahasia-aptika-2026")
            s.sendmail(f"aptika@{domain}", [f"aptika@{domain}"], message)
        with smtplib.SMTP("127.0.0.1", 8025, timeout=10) as s:
            s.ehlo()
            assert s.has_extn("starttls"), "incoming SMTP offers no STARTTLS"

        def delivered():
            imap = imaplib.IMAP4_SSL("127.0.0.1", 8993, ssl_context=context, timeout=10)
            imap.login(f"aptika@{domain}", "rahasia-aptika-2026")
            imap.select("INBOX")
            _, ids = imap.search(None, "ALL")
            raw = None
            if ids[0]:
                _, fetched = imap.fetch(ids[0].split()[-1], "(RFC822)")
                raw = fetched[0][1]
            imap.logout()
            return raw
        raw = runc.wait_until(delivered, 60, container, "delivery to the IMAPS mailbox")
        signed = email.message_from_bytes(raw)
        assert signed["Subject"] == "Surat Dinas 001"
        signature = signed["DKIM-Signature"]
        assert signature and f"d={domain}" in signature.replace(" ", "") and "s=spbe2026" in signature
        record = (data / ".spbe" / "dkim" / "spbe2026.txt").read_text()
        public = "".join(part for part in record.split('"')[1::2])

        def dns(name, timeout=5):
            assert name.decode().startswith(f"spbe2026._domainkey.{domain}")
            return public.encode()
        # the signature verifies against the key the DNS record publishes (the received copy,
        # with Dovecot's Return-Path/Delivered-To added above the signed headers)
        assert dkim.verify(raw, dnsfunc=dns), "DKIM signature does not verify"
    finally:
        container.stop()
