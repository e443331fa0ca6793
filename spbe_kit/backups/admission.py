"""Admitting a tenant to the backup store: its append-only identity and its (empty) repository.

Run by the platform when a tenant is provisioned (the tenant's own job can neither create its
repository nor change what it may do). For a SeaweedFS store whose identity file the kit manages
(settings ``identity_file``), the tenant's identity is written there and the store reloads it
(SIGHUP); for any other store, ops create the identity from `spbe backup policy TENANT`.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.backups import identities
from spbe_kit.backups.operations import repository
from spbe_kit.backups.store import StoreSettings, master_key
from spbe_kit.errors import BackupError


@dataclass(frozen=True)
class Admission:
    tenant_id: str
    identity: str  # added | present | managed outside the kit
    repository: str  # created | present

    def to_dict(self) -> dict[str, str]:
        return {"tenant": self.tenant_id, "identity": self.identity, "repository": self.repository}


def _write(path: Path, document: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(document, fh, indent=1)
    tmp.replace(path)


def write_identities(settings: StoreSettings, tenant_ids: list[str]) -> None:
    """The store's whole identity document (platform, auditors, these tenants) into its file, 0600."""
    assert settings.identity_file is not None
    _write(settings.identity_file,
           identities.store_config(settings.bucket, settings.admin, master_key(settings), tenant_ids))


def admitted(settings: StoreSettings) -> list[str]:
    if settings.identity_file is None:
        return []
    try:
        return identities.tenants_in(json.loads(settings.identity_file.read_text()))
    except (OSError, ValueError):
        return []


def _reload(settings: StoreSettings) -> None:
    if settings.reload_pidfile is None:
        return
    try:
        pid = int(json.loads(settings.reload_pidfile.read_text())["pid"])
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError, KeyError) as exc:
        raise BackupError(f"cannot tell the backup store to reload its identities: {exc}",
                          hint="is the store running? (spbe cluster status)") from None


def admit(settings: StoreSettings, tenant_id: str) -> Admission:
    """Give the tenant its identity and repository; idempotent."""
    identity = "managed outside the kit"
    if settings.identity_file is not None:
        with open(settings.identity_file.with_name(".identities.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            known = admitted(settings)
            if tenant_id in known:
                identity = "present"
            else:
                write_identities(settings, [*known, tenant_id])
                _reload(settings)
                identity = "added"
    created = repository(settings, tenant_id).ensure()
    return Admission(tenant_id, identity, "created" if created else "present")
