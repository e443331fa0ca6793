"""Real services for the role and verification tests, started from Debian's packages.

Each runs on 127.0.0.1 only, on a free port, in a temporary directory, and is stopped after
the session. Nothing here is assumed to be running beforehand.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import secrets
import socket
import subprocess
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        pytest.fail("PostgreSQL server binaries are missing: install the Debian package postgresql (.ci/run does)")
    return versions[-1].parent


def _self_signed(cert: Path, key: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "database.spbe.test")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
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
    _self_signed(data / "server.crt", data / "server.key")
    for name in ("server.crt", "server.key"):
        os.chown(data / name, uid, gid)
    (data / "server.key").chmod(0o600)
    port = _free_port()
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
    port = _free_port()
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
