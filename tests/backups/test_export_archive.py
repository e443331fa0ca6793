"""The data export archive a decommissioned pemda leaves with (spbe_kit.backups.export), made from a real
backup in the real store, then checked and loaded exactly as its BACA-SAYA.txt tells the pemda to."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile

import pytest

from spbe_kit.backups import admission, operations
from spbe_kit.backups.export import export_archive
from spbe_kit.backups.postgres import bin_dir, scratch_server
from tests.backups.conftest import keys_of, make_tenant, run_job

TENANT = "kota-malang"


@pytest.fixture(scope="module")
def backed_up(store, servers, tmp_path_factory):
    tenant = make_tenant(servers(), TENANT, 300)
    admission.admit(store, TENANT)
    job = run_job(store, tenant, keys_of(store, TENANT), tmp_path_factory.mktemp(TENANT))
    assert job.returncode == 0, job.stderr[-3000:]
    (snapshot,) = operations.list_backups(store, TENANT)
    return tenant, snapshot


def test_the_archive_holds_every_dump_with_checksums_and_loads_as_its_readme_says(store, backed_up, tmp_path):
    tenant, snapshot = backed_up
    archive = export_archive(store, TENANT, snapshot, tmp_path / "out")
    assert archive.path.name == f"{TENANT}-data-{snapshot.time.strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
    assert archive.databases == ["eoffice", "identity"]
    # the .sha256 beside it is what `sha256sum -c` reads, and it holds
    assert (tmp_path / "out" / f"{archive.path.name}.sha256").read_text() == f"{archive.sha256}  {archive.path.name}\n"
    assert subprocess.run(["sha256sum", "-c", f"{archive.path.name}.sha256"], cwd=tmp_path / "out",
                          capture_output=True).returncode == 0
    assert hashlib.sha256(archive.path.read_bytes()).hexdigest() == archive.sha256
    assert not list((tmp_path / "out").glob("*.partial"))
    with tarfile.open(archive.path) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    folder = tmp_path / "x" / TENANT
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["BACA-SAYA.txt", "MANIFEST.json", "SHA256SUMS", "globals.sql", "eoffice.dump", "eoffice.rows",
         "identity.dump", "identity.rows"])
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["tenant"] == TENANT and manifest["snapshot"] == snapshot.id and manifest["files"] == archive.files
    assert {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in archive.files} == \
        {n: f["sha256"] for n, f in archive.files.items()}
    readme = (folder / "BACA-SAYA.txt").read_text()
    assert "sha256sum -c SHA256SUMS" in readme and "pg_restore --create --dbname=postgres" in readme
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True).returncode == 0
    # loaded into an empty PostgreSQL with the README's two commands: the same rows as the tenant's
    with scratch_server() as server:
        env = server.env()
        psql = subprocess.run([str(bin_dir() / "psql"), "-v", "ON_ERROR_STOP=0", "-q", "-f", "globals.sql", "postgres"],
                              cwd=folder, env=env, capture_output=True, text=True, timeout=120)
        assert psql.returncode == 0, psql.stderr
        for db in archive.databases:
            restored = subprocess.run([str(bin_dir() / "pg_restore"), "--create", "--dbname=postgres", f"{db}.dump"],
                                      cwd=folder, env=env, capture_output=True, text=True, timeout=300)
            assert restored.returncode == 0, restored.stderr
            counts = subprocess.run([str(bin_dir() / "psql"), "-Atc",
                                     "SELECT (SELECT count(*) FROM letters) || ' ' || (SELECT count(*) FROM audit)", db],
                                    env=env, capture_output=True, text=True, timeout=60)
            assert counts.stdout.split() == ["300", "100"], (db, counts.stderr)


def test_the_same_backup_gives_the_same_archive_byte_for_byte(store, backed_up, tmp_path):
    _, snapshot = backed_up
    first = export_archive(store, TENANT, snapshot, tmp_path / "a")
    second = export_archive(store, TENANT, snapshot, tmp_path / "b")
    assert first.sha256 == second.sha256 and first.size == second.size
