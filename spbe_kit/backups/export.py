"""A tenant's data handed to its pemda: one backup from the store as a self-describing archive.

The archive (``<tenant>-data-<backup time>.tar.gz``) holds, under ``<tenant>/``, what the backup job
wrote -- each database as a ``pg_restore``-able dump, its rows per table, the roles (no passwords),
the job's ``SHA256SUMS`` -- plus ``MANIFEST.json`` (the tenant, the backup, every file's size and
SHA-256) and ``BACA-SAYA.txt`` (how to load it, in Bahasa Indonesia and English). Beside it,
``<archive>.sha256`` in ``sha256sum`` format. The archive is built from the backup's files only after
they matched the hashes the job recorded, and it is read back and checked member by member before
it is called done. The same backup always gives the same archive, byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.backups.operations import repository, restore_snapshot
from spbe_kit.backups.restic import Snapshot
from spbe_kit.backups.store import StoreSettings
from spbe_kit.errors import BackupError
from spbe_kit.evidence import file_sha256

README = """Data {tenant} -- diekspor dari cadangan {snapshot} ({time}) oleh spbe-kit.

Isi: satu berkas .dump per basis data (format custom pg_dump), jumlah baris per tabel (.rows),
peran-peran tanpa kata sandi (globals.sql), SHA256SUMS, dan MANIFEST.json (ukuran dan SHA-256 setiap berkas).
Periksa dulu:   cd {tenant} && sha256sum -c SHA256SUMS
Muat ke PostgreSQL {major} atau lebih baru:
                psql -f globals.sql postgres
                pg_restore --create --dbname=postgres NAMA.dump

Data of {tenant} -- exported from backup {snapshot} ({time}) by spbe-kit.

Contents: one .dump per database (pg_dump custom format), rows per table (.rows), the roles without
passwords (globals.sql), SHA256SUMS, and MANIFEST.json (every file's size and SHA-256).
Check first:    cd {tenant} && sha256sum -c SHA256SUMS
Load into PostgreSQL {major} or newer:
                psql -f globals.sql postgres
                pg_restore --create --dbname=postgres NAME.dump
"""


@dataclass(frozen=True)
class ExportArchive:
    path: Path
    sha256: str
    size: int
    snapshot: str
    backup_time: str
    files: dict[str, dict]  # name -> {"bytes": n, "sha256": hex}

    @property
    def databases(self) -> list[str]:
        return sorted(name[: -len(".dump")] for name in self.files if name.endswith(".dump"))

    def to_dict(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256, "bytes": self.size, "snapshot": self.snapshot,
                "backupTime": self.backup_time, "databases": self.databases, "files": self.files}


def _major(files: Path) -> str:
    """The PostgreSQL release the dumps came from (pg_dump writes it into globals.sql's header)."""
    for line in (files / "globals.sql").read_text(errors="replace").splitlines()[:20]:
        if "Dumped from database version" in line:
            return line.rsplit(" ", 1)[-1].split(".")[0]
    return "15"


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, path: Path | None, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data) if data is not None else path.stat().st_size
    info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = mtime, 0o644, 0, 0, "", ""
    if data is not None:
        tar.addfile(info, io.BytesIO(data))
    else:
        with path.open("rb") as f:
            tar.addfile(info, f)


def _check(archive: Path, tenant_id: str, files: dict[str, dict]) -> None:
    """Read the archive back: every file of the manifest there, with its size and SHA-256."""
    seen: dict[str, dict] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = member.name.removeprefix(f"{tenant_id}/")
            if name in files:
                digest = hashlib.sha256()
                reader = tar.extractfile(member)
                for block in iter(lambda: reader.read(1 << 20), b""):
                    digest.update(block)
                seen[name] = {"bytes": member.size, "sha256": digest.hexdigest()}
    if seen != files:
        wrong = sorted(set(files) ^ set(seen) | {n for n in files if n in seen and seen[n] != files[n]})
        raise BackupError(f"the export archive {archive} does not read back as written: {', '.join(wrong)}",
                          hint="the disk it was written to may be full or failing; run the export again")


def export_archive(settings: StoreSettings, tenant_id: str, snapshot: Snapshot, out_dir: Path) -> ExportArchive:
    """The archive of ``snapshot`` in ``out_dir`` (made if missing), checked; see the module's text."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = snapshot.time.strftime("%Y%m%dT%H%M%SZ")
    archive = out_dir / f"{tenant_id}-data-{stamp}.tar.gz"
    repo = repository(settings, tenant_id)
    with tempfile.TemporaryDirectory(prefix="spbe-export-") as tmp:
        files_dir = restore_snapshot(repo, snapshot, Path(tmp) / "files")  # refuses a backup that fails its hashes
        names = sorted(p.name for p in files_dir.iterdir() if p.is_file())
        files = {name: {"bytes": (files_dir / name).stat().st_size, "sha256": file_sha256(files_dir / name)} for name in names}
        manifest = {"kind": "spbe.go.id/DataExport", "tenant": tenant_id, "snapshot": snapshot.id,
                    "backupTime": snapshot.time.isoformat(), "files": files}
        readme = README.format(tenant=tenant_id, snapshot=snapshot.short_id, time=snapshot.time.isoformat(),
                               major=_major(files_dir))
        mtime = int(snapshot.time.timestamp())
        partial = archive.with_name(archive.name + ".partial")
        with partial.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=mtime, filename="") as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, f"{tenant_id}/BACA-SAYA.txt", readme.encode(), None, mtime)
            _add(tar, f"{tenant_id}/MANIFEST.json", json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n",
                 None, mtime)
            for name in names:
                _add(tar, f"{tenant_id}/{name}", None, files_dir / name, mtime)
    _check(partial, tenant_id, files)
    partial.replace(archive)
    digest = file_sha256(archive)
    (out_dir / f"{archive.name}.sha256").write_text(f"{digest}  {archive.name}\n")
    return ExportArchive(archive, digest, archive.stat().st_size, snapshot.id, snapshot.time.isoformat(), files)
