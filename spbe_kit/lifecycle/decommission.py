"""Decommissioning a tenant: the pemda leaves with its data, the platform keeps the proof.

In this order, each step only when the one before succeeded, so a failure leaves the tenant running
and nothing deleted:
1. a final backup into the platform's store (kept there for the retention period);
2. the data export archive of exactly that backup, for the pemda, with checksums (backups.export);
3. a restore drill of that backup into a scratch PostgreSQL (rows against what the backup recorded);
4. the destroy (every object of the tenant; the stack and its history stay as evidence of change).
Then the record of it all -- who, when, the backup, the archive's SHA-256 and every file's, the drill,
what was deleted -- signed with the platform's key, written beside the archive and filed in the store
next to the tenant's drills, where auditors read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from spbe_kit.backups import operations
from spbe_kit.backups.export import ExportArchive, export_archive
from spbe_kit.backups.store import DRILLS_PREFIX, StoreSettings
from spbe_kit.evidence import operator
from spbe_kit.errors import BackupError, DestroyRefused
from spbe_kit.health import tenant_health
from spbe_kit.lifecycle.final_backup import take_final_backup
from spbe_kit.provision import runner
from spbe_kit.provision.settings import EngineSettings

RECORD_KIND = "spbe.go.id/Decommission"


class DecommissionRefused(DestroyRefused):
    """A step before the destroy failed: the tenant still runs and nothing of it was deleted (exit 1, as a
    refused destroy)."""


@dataclass(frozen=True)
class Decommissioned:
    tenant: str
    archive: ExportArchive
    record: operations.DrillRecord
    evidence_file: Path
    filed_in_store: bool

    def to_dict(self) -> dict:
        return {"tenant": self.tenant, "archive": self.archive.to_dict(), "evidenceFile": str(self.evidence_file),
                "filedInStore": self.filed_in_store, "evidence": self.record.to_dict()}




def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def decommission(tenant_id: str, settings: EngineSettings, store: StoreSettings, out_dir: Path,
                 progress: Callable[[str], None] = lambda _: None) -> Decommissioned:
    """See the module's text; raises DecommissionRefused (nothing deleted) when a step before the destroy fails."""
    started = _now()
    if not tenant_health(tenant_id, settings.kubeconfig, settings.context).namespace_exists:
        raise DecommissionRefused(f"tenant {tenant_id} is not provisioned (no namespace {tenant_id}): nothing to decommission",
                                  hint="its earlier backups, if any, are listed by `spbe backup list " + tenant_id + "`")
    suspended = tenant_health(tenant_id, settings.kubeconfig, settings.context).suspended
    if suspended:
        raise DecommissionRefused(f"tenant {tenant_id} is suspended (since {suspended}): its database is stopped, so "
                                  "no final backup can be taken; nothing was deleted",
                                  hint=f"`spbe tenant resume {tenant_id}` first, then decommission it")
    progress(f"[1/4] final backup of {tenant_id}")
    try:
        snapshot = take_final_backup(store, tenant_id, settings.kubeconfig, settings.context, progress)
    except BackupError as exc:
        raise DecommissionRefused(f"not decommissioning {tenant_id}: its final backup failed ({exc.message}); "
                                  "nothing was deleted", hint=exc.hint or "check its database with `spbe tenant status`") from None
    progress(f"[2/4] data export archive of backup {snapshot.short_id} into {out_dir}")
    try:
        archive = export_archive(store, tenant_id, snapshot, out_dir)
    except BackupError as exc:
        raise DecommissionRefused(f"not decommissioning {tenant_id}: the export archive failed ({exc.message}); "
                                  "nothing was deleted", hint=exc.hint) from None
    progress(f"      {archive.path.name}: {archive.size} bytes, sha256 {archive.sha256}")
    progress(f"[3/4] restore drill of backup {snapshot.short_id}")
    drill = operations.drill(store, tenant_id, at=snapshot.time)
    if drill.result["snapshot"] != snapshot.id or not drill.result["passed"]:
        raise DecommissionRefused(f"not decommissioning {tenant_id}: the restore drill of its final backup failed: "
                                  + "; ".join(drill.result["problems"] or ["it ran on another backup"])
                                  + "; nothing was deleted", hint=f"the failed drill is on record ({drill.key})")
    progress(f"[4/4] destroying {tenant_id}")
    destroyed = runner.destroy(tenant_id, settings, progress)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "kind": RECORD_KIND, "tenant": tenant_id, "by": operator(), "startedAt": started, "finishedAt": _now(),
        "finalBackup": {"snapshot": snapshot.id, "time": snapshot.time.isoformat(),
                        "keptInStore": store.repository(tenant_id)},
        "export": {"archive": archive.path.name, "sha256": archive.sha256, "bytes": archive.size,
                   "databases": archive.databases, "files": archive.files},
        "drill": {"key": drill.key, "passed": True, "databases": drill.result["databases"]},
        "destroyed": {"objectsDeleted": destroyed.changes.get("delete", 0), "seconds": round(destroyed.seconds, 1),
                      "stackKept": True},
    }
    key = f"{DRILLS_PREFIX}/{tenant_id}/decommission-{stamp}.json"
    record = operations.signed(store, key, result)
    evidence_file = out_dir / f"{tenant_id}-decommission-{stamp}.json"
    evidence_file.write_text(json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n")
    filed = True
    try:  # the tenant is gone already: the record beside the archive is the evidence if the store cannot take it
        operations.file_signed(store, key, result)
    except BackupError as exc:
        filed = False
        progress(f"warning: the evidence could not be filed in the store ({exc.message}); it is in {evidence_file}")
    return Decommissioned(tenant_id, archive, record, evidence_file, filed)
