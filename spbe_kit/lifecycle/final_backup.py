"""The backup taken before a tenant's objects go: from its own database, as the read-only backup role,
into the platform's store, where it stays for the retention period whatever happens to the tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from spbe_kit.backups.cluster import tenant_server
from spbe_kit.backups.restic import Snapshot
from spbe_kit.backups.run import backup_now
from spbe_kit.backups.store import StoreSettings


def take_final_backup(store: StoreSettings, tenant_id: str, kubeconfig: Path, context: str | None,
                      progress: Callable[[str], None] = lambda _: None) -> Snapshot:
    """Every database of the tenant into the store, now (raises BackupError when it cannot be taken)."""
    progress(f"taking the final backup of {tenant_id} into the backup store ...")
    with tenant_server(tenant_id, kubeconfig, context, as_backup_role=True) as server:
        snapshot = backup_now(store, tenant_id, server)
    progress(f"final backup {snapshot.short_id} of {tenant_id} is in the store; it stays for the retention period")
    return snapshot
