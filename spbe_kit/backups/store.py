"""Where tenant backups go: one S3 store for the platform, one restic repository per tenant in it.

The store sits outside every tenant and outside the cluster (PDN 2024: backups in the same failure
domain were lost with it). Locally `spbe cluster up` runs one on 127.0.0.1 and writes its settings
under the state directory; in production ops point the kit at any S3 endpoint with
``SPBE_BACKUP_STORE`` (URL), ``SPBE_BACKUP_BUCKET`` and ``SPBE_BACKUP_STORE_CREDENTIALS`` (a file
with ``access_key`` and ``secret_key`` lines of the platform's own identity, 0600), and
``SPBE_BACKUP_STORE_POD_ENDPOINT`` when the backup jobs' pods reach the store by another address.

Keys: every tenant's repository password and its store identity's secret are derived from the
platform's master key (HMAC-SHA256 over a purpose and the tenant id). Ops keep that one key
offline; with it and the store, every tenant's backups can be read even when the cluster and every
Pulumi state are gone. One tenant's key reveals nothing about another's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from spbe_kit.errors import BackupError
from spbe_kit.paths import private_secret_file, state_dir

#: every tenant repository lives under this prefix of the bucket: tenants/<tenant-id>
TENANTS_PREFIX = "tenants"
#: signed restore-drill results, by tenant: drills/<tenant-id>/<time>.json
DRILLS_PREFIX = "drills"
_TENANT_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Credentials:
    """An S3 access key and its secret; the secret never appears in repr or str."""

    access_key: str
    secret_key: str = field(repr=False)

    def __str__(self) -> str:
        return f"access key {self.access_key}"


@dataclass(frozen=True)
class StoreSettings:
    """The platform's backup store: endpoint, bucket, and the platform's own credentials."""

    endpoint: str  # http(s)://host:port, no path
    bucket: str
    admin: Credentials
    master_key_file: Path
    region: str = "us-east-1"
    #: a SeaweedFS store's -s3.config file and the pidfile of the process to SIGHUP after a change: the kit
    #: then admits tenants itself; without them ops create each tenant's identity from `spbe backup policy`
    identity_file: Path | None = None
    reload_pidfile: Path | None = None
    #: the endpoint as the backup jobs' pods reach it (None: the same as ``endpoint``); locally the store
    #: listens on 127.0.0.1 and the real node forwards the S3 port from an address its pods can reach
    pod_endpoint: str | None = None

    def repository(self, tenant_id: str, for_pods: bool = False) -> str:
        """restic's address of one tenant's repository (as the platform, or as the jobs' pods, reach it)."""
        endpoint = (self.pod_endpoint or self.endpoint) if for_pods else self.endpoint
        return f"s3:{endpoint}/{self.bucket}/{tenant_prefix(tenant_id)}"

    def to_public_dict(self) -> dict[str, str]:
        """What may be shown: never a secret."""
        return {"endpoint": self.endpoint, "podEndpoint": self.pod_endpoint or self.endpoint, "bucket": self.bucket,
                "region": self.region, "adminAccessKey": self.admin.access_key}


def tenant_prefix(tenant_id: str) -> str:
    if not _TENANT_ID.match(tenant_id):
        raise BackupError(f"{tenant_id!r} is not a tenant id", hint="a tenant id is a DNS label, e.g. kab-banyuwangi")
    return f"{TENANTS_PREFIX}/{tenant_id}"


@dataclass(frozen=True)
class TenantKeys:
    """What one tenant's backup job holds: its store identity and its repository password."""

    tenant_id: str
    store: Credentials
    repository_password: str = field(repr=False)


class MasterKey:
    """The platform's master key; every per-tenant secret is derived from it and from nothing else."""

    def __init__(self, value: bytes) -> None:
        if len(value) < 32:
            raise BackupError("the backup master key is shorter than 32 bytes",
                              hint="use the key file `spbe cluster up` made, or one of 32+ random bytes")
        self._value = value

    def __repr__(self) -> str:
        return "MasterKey(<hidden>)"

    def _derive(self, purpose: str, tenant_id: str, length: int = 40) -> str:
        digest = hmac.new(self._value, f"spbe-backup/{purpose}/{tenant_id}".encode(), hashlib.sha256).hexdigest()
        return digest[:length]

    def tenant(self, tenant_id: str) -> TenantKeys:
        tenant_prefix(tenant_id)  # a real tenant id, or an error
        return TenantKeys(
            tenant_id=tenant_id,
            store=Credentials(access_key=f"spbe-{tenant_id}"[:64], secret_key=self._derive("store-secret", tenant_id)),
            repository_password=self._derive("repository-password", tenant_id, 64),
        )

    def auditor(self) -> Credentials:
        """The auditors' identity: may list the store and read the drill results, nothing more."""
        return Credentials(access_key="spbe-auditors", secret_key=self._derive("store-secret", "auditors"))

    def signing_seed(self) -> bytes:
        """The 32 bytes of the Ed25519 key that signs restore-drill results."""
        return hmac.new(self._value, b"spbe-backup/drill-signing", hashlib.sha256).digest()


def settings_file() -> Path:
    """Where `spbe cluster up` records the local store's settings."""
    return state_dir() / "backup-store" / "settings.json"


def _read_credentials(path: Path) -> Credentials:
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise BackupError(f"cannot read the backup store credentials {path}: {exc.strerror}",
                          hint="set SPBE_BACKUP_STORE_CREDENTIALS to the platform identity's file") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BackupError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o})", hint=f"chmod 600 {path}")
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        return Credentials(values["access_key"].strip(), values["secret_key"].strip())
    except KeyError:
        raise BackupError(f"{path} must hold the lines access_key=... and secret_key=...") from None


def write_credentials(path: Path, credentials: Credentials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"access_key={credentials.access_key}\nsecret_key={credentials.secret_key}\n")


def _check_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise BackupError(f"backup store endpoint {endpoint!r} is not an http(s)://host[:port] URL",
                          hint="e.g. https://s3.pdn.go.id or http://127.0.0.1:8333")
    return endpoint.rstrip("/")


def load_settings() -> StoreSettings:
    """The store from SPBE_BACKUP_STORE (+ bucket, credentials), else the local one `spbe cluster up` runs."""
    endpoint = os.environ.get("SPBE_BACKUP_STORE")
    master = Path(os.environ.get("SPBE_BACKUP_MASTER_KEY_FILE") or state_dir() / "backup-store" / "master.key")
    if endpoint:
        creds_file = os.environ.get("SPBE_BACKUP_STORE_CREDENTIALS")
        if not creds_file:
            raise BackupError("SPBE_BACKUP_STORE is set but SPBE_BACKUP_STORE_CREDENTIALS is not",
                              hint="point it at a 0600 file with access_key=... and secret_key=... lines")
        identity_file = os.environ.get("SPBE_BACKUP_STORE_IDENTITIES")
        pod_endpoint = os.environ.get("SPBE_BACKUP_STORE_POD_ENDPOINT")
        return StoreSettings(endpoint=_check_endpoint(endpoint), bucket=os.environ.get("SPBE_BACKUP_BUCKET", "spbe-backups"),
                             admin=_read_credentials(Path(creds_file)), master_key_file=master,
                             identity_file=Path(identity_file) if identity_file else None,
                             pod_endpoint=_check_endpoint(pod_endpoint) if pod_endpoint else None)
    path = settings_file()
    try:
        data = json.loads(path.read_text())
    except OSError:
        raise BackupError("no backup store is configured",
                          hint="run `spbe cluster up` for the local one, or set SPBE_BACKUP_STORE") from None
    return StoreSettings(endpoint=_check_endpoint(data["endpoint"]), bucket=data["bucket"],
                         admin=_read_credentials(path.with_name("admin.credentials")), master_key_file=master,
                         identity_file=Path(data["identityFile"]) if data.get("identityFile") else None,
                         reload_pidfile=Path(data["reloadPidfile"]) if data.get("reloadPidfile") else None,
                         pod_endpoint=_check_endpoint(data["podEndpoint"]) if data.get("podEndpoint") else None)


def master_key(settings: StoreSettings) -> MasterKey:
    """The platform's master key (made on first use locally; in production ops provide the file)."""
    try:
        return MasterKey(private_secret_file(settings.master_key_file, 48))
    except ValueError as exc:
        raise BackupError(str(exc)) from None
