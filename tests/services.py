"""Real services for the role and verification tests, started from Debian's packages.

Each runs on 127.0.0.1 only, on a free port, in a temporary directory, and is stopped after
the session. Nothing here is assumed to be running beforehand.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import pwd
import secrets
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    password: str  # of the `postgres` superuser
    data: Path
    owner: str

    @property
    def hba_file(self) -> Path:
        return self.data / "pg_hba.conf"

    def dsn(self, user: str = "postgres", password: str | None = None, dbname: str = "postgres",
            sslmode: str = "require") -> str:
        return (f"host={self.host} port={self.port} user={user} password={password or self.password} "
                f"dbname={dbname} sslmode={sslmode} connect_timeout=5")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        pytest.fail("PostgreSQL server binaries are missing: install the Debian package postgresql (.ci/run does)")
    return versions[-1].parent


def self_signed(cert: Path, key: Path, name: str = "database.spbe.test") -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(private.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}{proc.stdout[-1000:]}")


def start_postgres(root: Path) -> PostgresServer:
    """initdb + TLS + start, as the `postgres` user when we are root (initdb refuses root)."""
    binaries = postgres_bin()
    as_root = os.geteuid() == 0
    owner = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    uid, gid = pwd.getpwnam(owner).pw_uid, pwd.getpwnam(owner).pw_gid
    root.chmod(0o755)
    os.chown(root, uid, gid)
    data = root / "data"
    password = secrets.token_urlsafe(24)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    os.chown(pwfile, uid, gid)
    pwfile.chmod(0o600)
    _run([*run_as, str(binaries / "initdb"), "-D", str(data), "--username=postgres", f"--pwfile={pwfile}",
          "--auth-local=peer", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"])
    pwfile.unlink()
    self_signed(data / "server.crt", data / "server.key")
    for name in ("server.crt", "server.key"):
        os.chown(data / name, uid, gid)
    (data / "server.key").chmod(0o600)
    port = free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{root}'\n"
                   "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                   "password_encryption = scram-sha-256\n")
    _run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(root / "postgres.log"), "-w", "start"])
    return PostgresServer("127.0.0.1", port, password, data, owner)


def stop_postgres(server: PostgresServer) -> None:
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*run_as, str(postgres_bin() / "pg_ctl"), "-D", str(server.data), "-m", "fast", "-w", "stop"],
                   capture_output=True)


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    port: int
    config_dir: Path
    process: subprocess.Popen


def start_prometheus(root: Path) -> PrometheusServer:
    """Debian's Prometheus on 127.0.0.1 with a minimal config and the reload endpoint on."""
    import shutil
    import time
    import urllib.request

    binary = shutil.which("prometheus") or pytest.fail(
        "prometheus is missing: install the Debian package prometheus (.ci/run does)")
    config_dir = root / "etc"
    config_dir.mkdir()
    (config_dir / "prometheus.yml").write_text("global:\n  scrape_interval: 30s\nscrape_configs: []\n")
    port = free_port()
    log = (root / "prometheus.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={config_dir / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return PrometheusServer(url, port, config_dir, process)
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"prometheus did not become ready: {(root / 'prometheus.log').read_text()[-2000:]}")


@dataclass(frozen=True)
class MailHost:
    """Directories, ports and role variables for a Postfix + Dovecot instance configured by spbe_mail."""

    root: Path
    variables: dict

    @property
    def submission_port(self) -> int:
        return self.variables["spbe_mail_submission_port"]

    @property
    def smtp_port(self) -> int:
        return self.variables["spbe_mail_smtp_port"]

    @property
    def imaps_port(self) -> int:
        return self.variables["spbe_mail_imaps_port"]


def mail_variables(root: Path) -> MailHost:
    """A fresh instance layout: TLS material exists (the platform provides it); everything else is the role's."""
    import shutil

    for binary in ("postfix", "dovecot", "doveadm", "doveconf"):
        if not shutil.which(binary):
            pytest.fail(f"{binary} is missing: install the Debian packages postfix, dovecot-core, dovecot-imapd "
                        "and dovecot-lmtpd (.ci/run does)")
    root.chmod(0o755)  # the mail store's owner and Dovecot's users must reach it
    tls = root / "tls"
    tls.mkdir()
    self_signed(tls / "tls.crt", tls / "tls.key", "mail.banyuwangikab.go.id")
    (tls / "tls.key").chmod(0o600)
    (root / "spool").mkdir(mode=0o755)
    variables = {
        "spbe_mail_tenant": "kab-banyuwangi", "spbe_mail_domain": "banyuwangikab.go.id",
        "spbe_mail_postmaster_recipients": ["aptika@banyuwangikab.go.id"],
        "spbe_mail_aliases": [{"address": "humas", "to": ["aptika@banyuwangikab.go.id"]}],
        "spbe_mail_mailboxes": [{"name": "aptika", "password": secrets.token_urlsafe(18)},
                                {"name": "sekda", "password": secrets.token_urlsafe(18)}],
        "spbe_mail_listen_address": "127.0.0.1",
        "spbe_mail_smtp_port": free_port(), "spbe_mail_submission_port": free_port(),
        "spbe_mail_imaps_port": free_port(),
        "spbe_mail_tls_cert_file": str(tls / "tls.crt"), "spbe_mail_tls_key_file": str(tls / "tls.key"),
        "spbe_mail_postfix_config_dir": str(root / "postfix"), "spbe_mail_postfix_queue_dir": str(root / "spool"),
        "spbe_mail_postfix_data_dir": str(root / "postfix-data"), "spbe_mail_postfix_log": str(root / "log" / "postfix.log"),
        "spbe_mail_dovecot_config_dir": str(root / "dovecot"), "spbe_mail_dovecot_base_dir": str(root / "run"),
        "spbe_mail_dovecot_log": str(root / "log" / "dovecot.log"), "spbe_mail_store_dir": str(root / "store"),
        "spbe_mail_dkim_dir": str(root / "dkim"), "spbe_mail_dns_records_file": str(root / "dns-records.txt"),
    }
    (root / "log").mkdir()
    return MailHost(root, variables)


def stop_mail(host: MailHost) -> None:
    v = host.variables
    subprocess.run(["postfix", "-c", v["spbe_mail_postfix_config_dir"], "stop"], capture_output=True)
    subprocess.run(["doveadm", "-c", f"{v['spbe_mail_dovecot_config_dir']}/dovecot.conf", "stop"], capture_output=True)


# Keycloak's distribution on Maven Central, at the version the catalog runs. Central serves no .sha1 for
# 26.4.2 (the .zip is there, its .pom and checksums answer 404), so the digest is pinned here, taken from
# the first download and checked on every later one.


@dataclass(frozen=True)
class KeycloakServer:
    url: str
    management_port: int
    admin_user: str
    admin_password: str
    vault_dir: Path
    process: subprocess.Popen
    version: str


def keycloak_version() -> str:
    """The Keycloak the baseline image is built from (the role tests run the same release)."""
    from spbe_kit.images.recipes import KEYCLOAK_VERSION

    return KEYCLOAK_VERSION


def keycloak_zip(version: str) -> Path:
    """The distribution zip the baseline image is built from: fetched once into the cache by the image
    builder's own fetcher, refused unless its sha256 is the one the recipe pins."""
    from spbe_kit.images.artifacts import fetch
    from spbe_kit.images.recipes import KEYCLOAK
    from spbe_kit.paths import cache_dir

    for artifact in KEYCLOAK.artifacts:
        if artifact.name == "keycloak-quarkus-dist" and artifact.version == version:
            return fetch(artifact, cache_dir() / "downloads")
    pytest.fail(f"the keycloak recipe pins no distribution of Keycloak {version}")


def java_home(minimum: int = 21) -> Path:
    """A JDK new enough for Keycloak 26 (Debian bookworm's default java is 17)."""
    import re

    candidates = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    candidates += sorted(Path("/usr/lib/jvm").glob("*"), reverse=True)
    for home in candidates:
        release = home / "release"
        if (home / "bin" / "java").exists() and release.exists():
            match = re.search(r'JAVA_VERSION="(\d+)', release.read_text())
            if match and int(match.group(1)) >= minimum:
                return home
    pytest.fail(f"Keycloak needs Java {minimum} or newer; none found in JAVA_HOME or /usr/lib/jvm")


def start_keycloak(root: Path) -> KeycloakServer:
    """Keycloak in dev mode on 127.0.0.1 (in-memory database), a file vault, health on the management port."""
    import time
    import urllib.request
    import zipfile

    version = keycloak_version()
    with zipfile.ZipFile(keycloak_zip(version)) as dist:
        dist.extractall(root)
    home = root / f"keycloak-{version}"
    vault = root / "vault"
    vault.mkdir(mode=0o700)
    http_port, management_port = free_port(), free_port()
    password = secrets.token_urlsafe(24)
    env = {**os.environ, "JAVA_HOME": str(java_home()), "KC_BOOTSTRAP_ADMIN_USERNAME": "spbe-admin",
           "KC_BOOTSTRAP_ADMIN_PASSWORD": password}
    log = (root / "keycloak.log").open("w")
    process = subprocess.Popen(
        ["bash", str(home / "bin" / "kc.sh"), "start-dev", "--db=dev-mem", "--http-host=127.0.0.1",
         f"--http-port={http_port}", f"--http-management-port={management_port}", "--health-enabled=true",
         "--vault=file", f"--vault-dir={vault}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{management_port}/health/ready", timeout=2) as response:
                if response.status == 200:
                    return KeycloakServer(f"http://127.0.0.1:{http_port}", management_port, "spbe-admin", password, vault, process, version)
        except OSError:
            time.sleep(0.5)
    stop_keycloak_process(process)
    raise RuntimeError(f"Keycloak did not become ready: {(root / 'keycloak.log').read_text()[-3000:]}")


def stop_keycloak_process(process: subprocess.Popen) -> None:
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class KeycloakAdmin:
    """Keycloak's admin REST API, as the bootstrap admin."""

    def __init__(self, server):
        self.base = server.url
        token = post_form(f"{server.url}/realms/master/protocol/openid-connect/token", {
            "grant_type": "password", "client_id": "admin-cli",
            "username": server.admin_user, "password": server.admin_password})
        self.token = token[1]["access_token"]

    def call(self, method: str, path: str, body=None) -> tuple[int, object]:
        request = urllib.request.Request(f"{self.base}/admin/realms{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None


def post_form(url: str, form: dict) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, data=urllib.parse.urlencode(form).encode(), timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
