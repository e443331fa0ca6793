"""What the platform does with a tenant's backups: admit, list, prune, restore, and drill (evidence).

A restore drill restores a backup (the newest by default) from the store into a scratch
PostgreSQL outside the tenant, checks every file against the SHA256SUMS the job recorded and
every table's rows against the counts the job took in the dump's own snapshot, and writes the
result -- signed with the platform's Ed25519 key -- next to the backups (drills/<tenant>/...),
where the auditors' identity can read it and anyone can check it with the public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from spbe_kit.backups import postgres, s3
from spbe_kit.backups.restic import Repository, Snapshot
from spbe_kit.backups.store import DRILLS_PREFIX, StoreSettings, master_key, tenant_prefix
from spbe_kit.errors import BackupError


def repository(settings: StoreSettings, tenant_id: str, cache_dir: Path | None = None) -> Repository:
    """A tenant's repository opened with the platform's identity and the tenant's derived password."""
    keys = master_key(settings).tenant(tenant_id)
    return Repository(settings.repository(tenant_id), keys.repository_password, settings.admin, cache_dir,
                      settings.region)


def open_repository(settings: StoreSettings, tenant_id: str) -> Repository:
    """Create the tenant's repository in the store unless it exists (the job cannot: it only appends)."""
    repo = repository(settings, tenant_id)
    repo.ensure()
    return repo


def list_backups(settings: StoreSettings, tenant_id: str) -> list[Snapshot]:
    repo = repository(settings, tenant_id)
    if not repo.exists():
        raise BackupError(f"the store holds no backup repository for {tenant_id}",
                          hint="a tenant gets one when it is provisioned; check the tenant id")
    return repo.snapshots(host=tenant_id)


def choose(snapshots: list[Snapshot], tenant_id: str, at: datetime | None = None) -> Snapshot:
    """The newest backup, or the newest taken at or before `at`."""
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    eligible = [s for s in snapshots if at is None or s.time <= at]
    if not eligible:
        when = f" at or before {at.isoformat()}" if at else ""
        raise BackupError(f"no backup of {tenant_id}{when} in the store",
                          hint="list them with `spbe backup list " + tenant_id + "`")
    return eligible[-1]


def prune(settings: StoreSettings, tenant_id: str, retention_days: int) -> dict:
    """Drop backups older than the retention (the newest always stays), then the store's old versions of
    what restic removed; only the platform can (the store's lock holds every version 7 days)."""
    if retention_days < s3.MINIMUM_RETENTION_DAYS:
        raise BackupError(f"retention of {retention_days} days is below the baseline's minimum of "
                          f"{s3.MINIMUM_RETENTION_DAYS}")
    result = repository(settings, tenant_id).forget(retention_days, host=tenant_id)
    cutoff = datetime.now(timezone.utc) - timedelta(days=retention_days)
    old = [v for v in s3.versions(settings, tenant_prefix(tenant_id) + "/") if not v["latest"] and v["modified"] < cutoff]
    s3.delete_versions(settings, old)
    return {**result, "versionsPurged": len(old)}


def undo_overwrites(settings: StoreSettings, tenant_id: str) -> list[str]:
    """Put back the first version of every repository file written over since (restic writes each file
    once, so a second version is tampering or damage); the keys it restored."""
    by_key: dict[str, list[dict]] = {}
    for v in s3.versions(settings, tenant_prefix(tenant_id) + "/"):
        if not v["deleteMarker"] and "/locks/" not in v["key"]:
            by_key.setdefault(v["key"], []).append(v)
    restored = []
    for key, versions in sorted(by_key.items()):
        if len(versions) < 2:
            continue
        first = min(versions, key=lambda v: v["modified"])
        if not first["latest"]:
            s3.copy_version(settings, key, first["versionId"])
            restored.append(key)
    return restored


def _checked_files(directory: Path) -> list[str]:
    """Every file the job listed in SHA256SUMS, with the hash it recorded; problems, if any."""
    sums = directory / "SHA256SUMS"
    if not sums.is_file():
        return ["the backup has no SHA256SUMS"]
    problems = []
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        path = directory / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name} does not match its recorded SHA-256")
    return problems


def restore_snapshot(repo: Repository, snapshot: Snapshot, target: Path) -> Path:
    """The snapshot's files in `target`, checked against the hashes the job recorded."""
    repo.restore(snapshot.id, target)
    problems = _checked_files(target)
    if problems:
        raise BackupError(f"backup {snapshot.short_id} is damaged: {'; '.join(problems)}")
    return target


def restore_into(settings: StoreSettings, tenant_id: str, server: postgres.Server, at: datetime | None = None,
                 databases: list[str] | None = None) -> dict:
    """Replace databases of `server` with those of a backup, then prove their rows match the backup's."""
    repo = repository(settings, tenant_id)
    snapshot = choose(repo.snapshots(host=tenant_id), tenant_id, at)
    with tempfile.TemporaryDirectory(prefix="spbe-restore-") as tmp:
        files = restore_snapshot(repo, snapshot, Path(tmp))
        counts = postgres.load(server, files, databases)
        mismatched = [db for db, rows in counts.items() if rows.strip() != (files / f"{db}.rows").read_text().strip()]
    if mismatched:
        raise BackupError(f"restored {', '.join(mismatched)} from {snapshot.short_id} with other row counts than the backup recorded")
    return {"tenant": tenant_id, "snapshot": snapshot.short_id, "time": snapshot.time.isoformat(),
            "databases": {db: _table_summary(rows) for db, rows in counts.items()}}


def _table_summary(rows: str) -> dict:
    lines = [ln for ln in rows.splitlines() if "|" in ln]
    return {"tables": len(lines), "rows": sum(int(ln.rsplit("|", 1)[1]) for ln in lines)}


# --------------------------------------------------------------------------- drills


def _signing_key(settings: StoreSettings) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(master_key(settings).signing_seed())


def public_key(settings: StoreSettings) -> str:
    raw = _signing_key(settings).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _canonical(result: dict) -> bytes:
    return json.dumps(result, sort_keys=True, separators=(",", ":")).encode()


DRILL_KIND = "spbe.go.id/RestoreDrill"


@dataclass(frozen=True)
class DrillRecord:
    key: str
    result: dict
    signature: str
    public_key: str

    def to_dict(self) -> dict:
        return {"key": self.key, "result": self.result, "signature": self.signature, "publicKey": self.public_key}


def verify_signature(document: dict, public_key_b64: str) -> bool:
    """True when `document` (a drill record) was signed by the holder of that public key."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(document["signature"]), _canonical(document["result"]))
        return True
    except (InvalidSignature, KeyError, ValueError):
        return False


def drill(settings: StoreSettings, tenant_id: str, at: datetime | None = None) -> DrillRecord:
    """Restore a backup into a scratch server outside the tenant; record the signed result in the store."""
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    repo = repository(settings, tenant_id)
    snapshot = choose(repo.snapshots(host=tenant_id), tenant_id, at)
    databases: list[dict] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="spbe-drill-") as tmp:
        files = Path(tmp)
        try:  # a backup that does not restore is a failed drill, and recorded as one
            repo.restore(snapshot.id, files)
            problems += _checked_files(files)
            if not problems:
                with postgres.scratch_server() as server:
                    for db, rows in postgres.load(server, files).items():
                        recorded = (files / f"{db}.rows").read_text().strip()
                        match = rows.strip() == recorded
                        databases.append({"name": db, **_table_summary(rows), "rowsMatchBackup": match,
                                          "dumpSha256": hashlib.sha256((files / f"{db}.dump").read_bytes()).hexdigest()})
                        if not match:
                            problems.append(f"{db}: restored row counts differ from those recorded at backup time")
        except BackupError as exc:
            problems.append(exc.message)
        if not databases and not problems:
            problems.append("the backup holds no database dump")
    result = {
        "kind": DRILL_KIND, "tenant": tenant_id, "snapshot": snapshot.id, "snapshotShort": snapshot.short_id,
        "backupTime": snapshot.time.isoformat(), "startedAt": started.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - clock, 1), "ranOn": socket.gethostname(),
        "target": "scratch PostgreSQL outside the tenant", "databases": databases, "problems": problems,
        "passed": not problems,
    }
    return file_signed(settings, f"{DRILLS_PREFIX}/{tenant_id}/{started.strftime('%Y%m%dT%H%M%SZ')}.json", result)


def signed(settings: StoreSettings, key: str, result: dict) -> DrillRecord:
    """``result`` signed with the platform's key, to be filed at ``key`` (nothing is written)."""
    signature = base64.b64encode(_signing_key(settings).sign(_canonical(result))).decode()
    return DrillRecord(key, result, signature, public_key(settings))


def file_signed(settings: StoreSettings, key: str, result: dict) -> DrillRecord:
    """``result`` signed with the platform's key and put at ``key`` (under drills/, where auditors read)."""
    record = signed(settings, key, result)
    s3.put(settings, key, json.dumps(record.to_dict(), indent=2, sort_keys=True).encode())
    return record


def drill_history(settings: StoreSettings, tenant_id: str, public_key_b64: str, credentials=None) -> list[dict]:
    """Every drill result of a tenant, oldest first, each with whether it was signed by that platform key
    (the key a record carries itself proves nothing: auditors check against the published one)."""
    return [d for d in evidence(settings, tenant_id, public_key_b64, credentials)
            if d.get("result", {}).get("kind") == DRILL_KIND]


def evidence(settings: StoreSettings, tenant_id: str, public_key_b64: str, credentials=None) -> list[dict]:
    """Every signed record of a tenant (drills, its decommission), oldest first, with ``signatureValid``."""
    out = []
    for obj in s3.list_keys(settings, f"{DRILLS_PREFIX}/{tenant_id}/", credentials):
        document = json.loads(s3.get(settings, obj["key"], credentials))
        out.append({**document, "key": obj["key"], "signatureValid": verify_signature(document, public_key_b64)})
    return out


# --------------------------------------------------------------------------- the platform's drill schedule


def tenants_in_store(settings: StoreSettings) -> list[str]:
    """Every tenant with a repository in the store (gone tenants included: their final backups are kept)."""
    from spbe_kit.backups.store import TENANTS_PREFIX

    return s3.list_prefixes(settings, f"{TENANTS_PREFIX}/")


@dataclass(frozen=True)
class DueDrill:
    tenant: str
    outcome: str  # passed | failed | not-due | no-backup
    detail: str
    key: str | None = None  # the drill record filed now

    def to_dict(self) -> dict:
        return {"tenant": self.tenant, "outcome": self.outcome, "detail": self.detail, "key": self.key}


def _last_drill(settings: StoreSettings, tenant_id: str) -> dict | None:
    records = [d for d in evidence(settings, tenant_id, public_key(settings)) if d["result"].get("kind") == DRILL_KIND]
    return records[-1] if records else None


def drill_due(settings: StoreSettings, every_days: int = 7, workers: int = 2, now: datetime | None = None,
              progress=lambda _: None) -> list[DueDrill]:
    """The platform's restore-drill schedule, meant to run daily: each tenant in the store whose newest drill
    failed, is older than ``every_days``, is unsigned by this platform, or does not exist, is drilled now
    (``workers`` at a time, each into its own scratch server); the others are left as they are."""
    from concurrent.futures import ThreadPoolExecutor

    now = now or datetime.now(timezone.utc)

    def one(tenant_id: str) -> DueDrill:
        last = _last_drill(settings, tenant_id)
        if last and last["signatureValid"] and last["result"]["passed"]:
            age = now - datetime.fromisoformat(last["result"]["startedAt"])
            if age < timedelta(days=every_days):
                return DueDrill(tenant_id, "not-due", f"last drill passed {age.days} day(s) ago ({last['key']})")
        progress(f"{tenant_id}: restore drill ...")
        try:
            record = drill(settings, tenant_id)
        except BackupError as exc:
            return DueDrill(tenant_id, "no-backup", exc.message)
        result = record.result
        detail = (f"backup {result['snapshotShort']}: {len(result['databases'])} database(s), rows as recorded"
                  if result["passed"] else "; ".join(result["problems"]))
        return DueDrill(tenant_id, "passed" if result["passed"] else "failed", detail, record.key)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, tenants_in_store(settings)))
