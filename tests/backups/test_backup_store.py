"""Backups against the real store and real PostgreSQL: the job's script, the tenants' limits, restore, drills.

Two tenants, each with its own PostgreSQL (as in the cluster); both admitted to one store.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest
from botocore.exceptions import ClientError

from spbe_kit.backups import admission, operations, s3
from spbe_kit.backups.postgres import Server
from spbe_kit.backups.restic import Repository
from spbe_kit.backups.store import tenant_prefix
from spbe_kit.errors import BackupError
from tests.backups.conftest import keys_of, make_tenant, run_job

A, B = "kab-banyuwangi", "kota-surabaya"


def _rows(tenant, db: str) -> dict[str, int]:
    with tenant.connect(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT 'letters', count(*) FROM letters UNION ALL SELECT 'audit', count(*) FROM audit")
        return dict(cur.fetchall())


def _superuser(tenant) -> Server:
    return Server(host=tenant.server.host, port=tenant.server.port, user="postgres", password=tenant.server.password,
                  sslmode="require")


@pytest.fixture(scope="module")
def tenants(store, servers, tmp_path_factory):
    """Both tenants admitted, each with one backup taken by its own job."""
    made = {A: make_tenant(servers(), A, 500), B: make_tenant(servers(), B, 120)}
    for tenant_id, tenant in made.items():
        admitted = admission.admit(store, tenant_id)
        assert admitted.to_dict() == {"tenant": tenant_id, "identity": "added", "repository": "created"}
        job = run_job(store, tenant, keys_of(store, tenant_id), tmp_path_factory.mktemp(tenant_id))
        assert job.returncode == 0, job.stderr[-3000:]
        assert f"of {tenant_id} written to the store: eoffice identity" in job.stdout
    return made


def test_admitting_twice_changes_nothing(store, tenants):
    assert admission.admit(store, A).to_dict() == {"tenant": A, "identity": "present", "repository": "present"}
    assert admission.admitted(store) == sorted([A, B])


def test_the_job_writes_an_encrypted_snapshot_of_each_database_with_its_row_counts(store, tenants):
    snapshots = operations.list_backups(store, A)
    assert len(snapshots) == 1 and snapshots[0].host == A and f"tenant={A}" in snapshots[0].tags
    # encrypted: nothing the store holds for A contains a table's text
    keys = [o["key"] for o in s3.list_keys(store, tenant_prefix(A) + "/data/")]
    assert keys
    blob = s3.get(store, keys[0])
    assert b"surat" not in blob and b"letters" not in blob


def test_backup_drop_restore_gives_the_same_rows(store, tenants):
    tenant = tenants[A]
    before = {db: _rows(tenant, db) for db in tenant.databases}
    assert before["eoffice"] == {"letters": 500, "audit": 166}
    conn = psycopg2.connect(tenant.server.dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE eoffice WITH (FORCE)")
    conn.close()
    with pytest.raises(psycopg2.OperationalError):
        tenant.connect("eoffice")
    result = operations.restore_into(store, A, _superuser(tenant))
    assert {db: _rows(tenant, db) for db in tenant.databases} == before
    assert result["databases"]["eoffice"] == {"tables": 2, "rows": 666}
    # ownership comes back with the data: the app's role still owns its tables
    with tenant.connect("eoffice") as c, c.cursor() as cur:
        cur.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'letters'")
        assert cur.fetchone()[0] == "eoffice"


def test_restore_at_a_time_before_any_backup_is_refused(store, tenants):
    with pytest.raises(BackupError, match="no backup of kab-banyuwangi at or before"):
        operations.restore_into(store, A, _superuser(tenants[A]), at=datetime.now(timezone.utc) - timedelta(days=1))


def _back_up_with_new_sums(repo, folder, host: str) -> None:
    """A backup of `folder` as if a job had made it: SHA256SUMS recomputed over its (altered) files."""
    import hashlib

    (folder / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n"
        for n in sorted(p.name for p in folder.iterdir() if p.name != "SHA256SUMS")))
    repo.backup(folder, host=host)


def _tenant_s3(store, tenant_id):
    return s3.client(store, keys_of(store, tenant_id).store)


def _denied(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return s3.error_code(caught.value)


def test_a_tenant_cannot_read_list_or_delete_another_tenants_backups(store, tenants):
    a = _tenant_s3(store, A)
    b_key = s3.list_keys(store, tenant_prefix(B) + "/data/")[0]["key"]
    assert _denied(lambda: a.get_object(Bucket=store.bucket, Key=b_key)) == "AccessDenied"
    assert _denied(lambda: a.delete_object(Bucket=store.bucket, Key=b_key)) == "AccessDenied"
    assert _denied(lambda: a.list_objects_v2(Bucket=store.bucket, Prefix=tenant_prefix(B) + "/")) == "AccessDenied"
    assert _denied(lambda: a.put_object(Bucket=store.bucket, Key=tenant_prefix(B) + "/data/x", Body=b"x")) == "AccessDenied"
    # and restic with A's identity and A's key cannot open B's repository
    keys = keys_of(store, A)
    stranger = Repository(store.repository(B), keys.repository_password, keys.store)
    with pytest.raises(BackupError):
        stranger.snapshots()
    assert s3.get(store, b_key)  # still there


def test_a_tenant_cannot_delete_or_overwrite_its_own_backups_only_add(store, tenants):
    a = _tenant_s3(store, A)
    own = [o["key"] for o in s3.list_keys(store, tenant_prefix(A) + "/")]
    snapshot_key = next(k for k in own if "/snapshots/" in k)
    assert _denied(lambda: a.delete_object(Bucket=store.bucket, Key=snapshot_key)) == "AccessDenied"
    try:  # a batch delete answers per key
        answer = a.delete_objects(Bucket=store.bucket, Delete={"Objects": [{"Key": snapshot_key}]})
        assert [e["Code"] for e in answer.get("Errors", [])] == ["AccessDenied"], answer
    except ClientError as exc:
        assert s3.error_code(exc) == "AccessDenied"
    # its identity may add objects, so it may also write over one: the store keeps every version (object
    # lock), and versions are out of the tenant's reach
    original = s3.get(store, snapshot_key)
    a.put_object(Bucket=store.bucket, Key=snapshot_key, Body=b"garbage")
    versions = s3.client(store).list_object_versions(Bucket=store.bucket, Prefix=snapshot_key)["Versions"]
    assert len(versions) == 2
    older = next(v for v in versions if not v["IsLatest"])
    assert _denied(lambda: a.delete_object(Bucket=store.bucket, Key=snapshot_key, VersionId=older["VersionId"])) \
        == "AccessDenied"
    assert s3.client(store).get_object(Bucket=store.bucket, Key=snapshot_key,
                                       VersionId=older["VersionId"])["Body"].read() == original
    # the platform brings the good version back (and the overwrite shows in the store's history)
    assert operations.undo_overwrites(store, A) == [snapshot_key]
    assert s3.get(store, snapshot_key) == original
    # restic told by the tenant's identity to forget its backup fails: retention is the platform's
    keys = keys_of(store, A)
    own_repo = Repository(store.repository(A), keys.repository_password, keys.store)
    snapshot = own_repo.snapshots(host=A)[0]
    with pytest.raises(BackupError, match="Access Denied|AccessDenied|access denied"):
        own_repo.run("forget", snapshot.id, "--prune")
    assert [s.id for s in own_repo.snapshots(host=A)] == [snapshot.id]
    assert sorted(o["key"] for o in s3.list_keys(store, tenant_prefix(A) + "/snapshots/")) == \
        sorted(k for k in own if "/snapshots/" in k)


def test_the_drill_restores_outside_the_tenant_and_files_signed_evidence(store, tenants):
    record = operations.drill(store, B)
    result = record.result
    assert result["passed"], result["problems"]
    assert {d["name"]: (d["tables"], d["rows"], d["rowsMatchBackup"]) for d in result["databases"]} == \
        {"eoffice": (2, 160, True), "identity": (2, 160, True)}
    history = operations.drill_history(store, B, operations.public_key(store))
    assert [h["key"] for h in history] == [record.key] and history[0]["signatureValid"]
    # a forged result does not verify against the platform's key
    forged = {**history[0], "result": {**history[0]["result"], "passed": False}}
    assert not operations.verify_signature(forged, operations.public_key(store))


def test_auditors_list_everything_and_read_drills_but_no_backup_content(store, tenants):
    operations.drill(store, A)
    auditors = operations.master_key(store).auditor()
    listed = s3.list_keys(store, "", auditors)
    assert any(k["key"].startswith(tenant_prefix(A)) for k in listed)
    history = operations.drill_history(store, A, operations.public_key(store), auditors)
    assert history and all(h["signatureValid"] for h in history)
    data_key = next(k["key"] for k in listed if k["key"].startswith(tenant_prefix(A) + "/data/"))
    with pytest.raises(BackupError, match="AccessDenied"):
        s3.get(store, data_key, auditors)
    client = s3.client(store, auditors)
    assert _denied(lambda: client.put_object(Bucket=store.bucket, Key="drills/x.json", Body=b"{}")) == "AccessDenied"


def test_a_drill_of_a_backup_whose_rows_do_not_match_fails(store, tenants, tmp_path):
    """A backup whose recorded counts disagree with its dump (a partial dump, say) must fail its drill."""
    repo = operations.repository(store, A)
    folder = tmp_path / "bad"
    operations.restore_snapshot(repo, repo.snapshots(host=A)[-1], folder)
    rows = folder / "eoffice.rows"
    rows.write_text(rows.read_text().replace("public.letters|500", "public.letters|501"))
    _back_up_with_new_sums(repo, folder, A)
    record = operations.drill(store, A)
    assert not record.result["passed"]
    assert record.result["problems"] == ["eoffice: restored row counts differ from those recorded at backup time"]
    assert operations.drill_history(store, A, operations.public_key(store))[-1]["result"]["passed"] is False


def test_prune_keeps_the_newest_and_is_refused_below_seven_days(store, tenants):
    with pytest.raises(BackupError, match="below the baseline's minimum of 7"):
        operations.prune(store, A, 3)
    before = operations.list_backups(store, A)
    assert operations.prune(store, A, 7) == {"removed": 0, "versionsPurged": 0}  # all younger than a week
    assert [s.id for s in operations.list_backups(store, A)] == [s.id for s in before]


def test_the_cli_lists_and_drills_with_exit_codes(store, tenants, monkeypatch, tmp_path):
    import os
    import sys

    env = {**os.environ, "SPBE_BACKUP_STORE": store.endpoint, "SPBE_BACKUP_BUCKET": store.bucket,
           "SPBE_BACKUP_MASTER_KEY_FILE": str(store.master_key_file)}
    creds = tmp_path / "platform.credentials"
    from spbe_kit.backups.store import write_credentials

    write_credentials(creds, store.admin)
    env["SPBE_BACKUP_STORE_CREDENTIALS"] = str(creds)
    listed = subprocess.run([sys.executable, "-m", "spbe_kit", "backup", "list", B, "-o", "json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["backups"]) == 1
    drill = subprocess.run([sys.executable, "-m", "spbe_kit", "backup", "verify", B], env=env,
                           capture_output=True, text=True, timeout=300)
    assert drill.returncode == 0, drill.stderr
    assert "passed" in drill.stdout and "drills/kota-surabaya/" in drill.stdout
    for secret in (store.admin.secret_key, keys_of(store, B).repository_password, keys_of(store, B).store.secret_key):
        assert secret not in listed.stdout + listed.stderr + drill.stdout + drill.stderr
    unknown = subprocess.run([sys.executable, "-m", "spbe_kit", "backup", "list", "kab-tidak-ada"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "no backup repository for kab-tidak-ada" in unknown.stderr


def test_a_backup_taken_now_by_the_platform_is_one_more_snapshot_of_the_same_kind(store, tenants):
    """`spbe backup run` and destroy's final backup: the job's script from outside, as the backup role."""
    from spbe_kit.backups.run import backup_now
    from tests.backups.conftest import BACKUP_PASSWORD, BACKUP_ROLE

    tenant = tenants[B]
    before = operations.list_backups(store, B)
    server = Server(host=tenant.server.host, port=tenant.server.port, user=BACKUP_ROLE, password=BACKUP_PASSWORD,
                    sslmode="require")
    snapshot = backup_now(store, B, server)
    after = operations.list_backups(store, B)
    assert [s.id for s in after] == [s.id for s in before] + [snapshot.id]
    assert snapshot.tags == before[0].tags
    wrong = Server(host=tenant.server.host, port=tenant.server.port, user=BACKUP_ROLE, password="not-it",
                   sslmode="require")
    with pytest.raises(BackupError, match="the backup of kota-surabaya failed: .*password authentication failed"):
        backup_now(store, B, wrong)
    assert len(operations.list_backups(store, B)) == len(after)


def test_a_backup_that_does_not_restore_is_a_failed_drill_on_record(store, tenants, tmp_path):
    repo = operations.repository(store, B)
    folder = tmp_path / "broken"
    operations.restore_snapshot(repo, repo.snapshots(host=B)[-1], folder)
    (folder / "identity.dump").write_bytes(b"PGDMP not really a dump")
    _back_up_with_new_sums(repo, folder, B)
    record = operations.drill(store, B)
    assert not record.result["passed"]
    assert len(record.result["problems"]) == 1 and record.result["problems"][0].startswith("pg_restore failed")
    last = operations.drill_history(store, B, operations.public_key(store))[-1]
    assert last["key"] == record.key and last["signatureValid"] and last["result"]["passed"] is False


def _cli_env(store, tmp_path) -> dict[str, str]:
    import os

    from spbe_kit.backups.store import write_credentials

    creds = tmp_path / "platform.credentials"
    write_credentials(creds, store.admin)
    return {**os.environ, "SPBE_BACKUP_STORE": store.endpoint, "SPBE_BACKUP_BUCKET": store.bucket,
            "SPBE_BACKUP_MASTER_KEY_FILE": str(store.master_key_file), "SPBE_BACKUP_STORE_CREDENTIALS": str(creds)}


def test_the_platforms_drill_schedule_drills_what_is_due_and_leaves_the_rest(store, tenants, tmp_path):
    """Run daily, `spbe backup verify-due` drills a tenant whose newest drill failed, is missing or is older than
    a week, and leaves a tenant with a recent passing drill alone; a damaged backup or none at all is exit 1."""
    import sys

    job = run_job(store, tenants[B], keys_of(store, B), tmp_path / "b")  # B's newest backup is good again
    assert job.returncode == 0, job.stderr[-2000:]
    admission.admit(store, "kab-kosong")  # admitted, never backed up
    mine = (A, B, "kab-kosong")
    first = {r.tenant: r for r in operations.drill_due(store, every_days=7) if r.tenant in mine}
    # B's newest drill had failed (the broken backup of the test before): due, and its new backup passes;
    # A's newest backup has wrong row counts, so its drill fails again
    assert (first[B].outcome, first[A].outcome, first["kab-kosong"].outcome) == ("passed", "failed", "no-backup")
    assert first[B].key and operations.drill_history(store, B, operations.public_key(store))[-1]["key"] == first[B].key
    proc = subprocess.run([sys.executable, "-m", "spbe_kit", "backup", "verify-due", "-o", "json"],
                          env=_cli_env(store, tmp_path), capture_output=True, text=True, timeout=600)
    second = {t["tenant"]: t for t in json.loads(proc.stdout)["tenants"] if t["tenant"] in mine}
    assert proc.returncode == 1 and second[B]["outcome"] == "not-due" and second[A]["outcome"] == "failed"
    later = {r.tenant: r for r in operations.drill_due(store, 7, now=datetime.now(timezone.utc) + timedelta(days=8))
             if r.tenant in mine}
    assert later[B].outcome == "passed"  # a week on, due again


def test_the_platforms_prune_keeps_exactly_each_requests_retention(store, tenants, tmp_path):
    """`spbe backup prune-due --requests DIR`: a backup older than the request's retentionDays (30 for
    kab-banyuwangi) goes, one younger stays; a tenant with no request there is not touched; an invalid request
    in the folder prunes nothing."""
    import shutil
    import sys

    from spbe_kit.backups.restic import BACKUP_TAG, Repository
    from tests.conftest import ROOT

    platform = Repository(store.repository(A), keys_of(store, A).repository_password, store.admin)
    old = tmp_path / "old"
    old.mkdir()
    (old / "SHA256SUMS").write_text("")
    for days in (45, 20):  # a backup beyond the request's 30 days, and one within
        stamp = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
        platform.run("backup", "--host", A, "--tag", BACKUP_TAG, "--time", stamp, ".", cwd=old)
    before = operations.list_backups(store, A)
    b_before = [s.id for s in operations.list_backups(store, B)]
    requests = tmp_path / "requests"
    requests.mkdir()
    shutil.copy(ROOT / "examples" / "kab-banyuwangi.yaml", requests)  # retentionDays: 30
    (requests / "broken.yaml").write_text("apiVersion: spbe.go.id/v1alpha1\nkind: TenantRequest\n")
    cli = [sys.executable, "-m", "spbe_kit", "backup", "prune-due", "--requests", str(requests), "-o", "json"]
    refused = subprocess.run(cli, env=_cli_env(store, tmp_path), capture_output=True, text=True, timeout=600)
    assert refused.returncode == 1 and "nothing was pruned" in refused.stderr, refused.stderr
    assert [s.id for s in operations.list_backups(store, A)] == [s.id for s in before]
    (requests / "broken.yaml").unlink()
    proc = subprocess.run(cli, env=_cli_env(store, tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = {t["tenant"]: t for t in json.loads(proc.stdout)["tenants"]}
    assert (report[A]["outcome"], report[A]["retentionDays"], report[A]["source"]) == ("pruned", 30, "the request")
    assert report[A]["removed"] == 1 and report[B]["outcome"] == "kept"
    after = operations.list_backups(store, A)
    cutoff = datetime.now(timezone.utc) - timedelta(days=30)
    assert len(after) == len(before) - 1 and all(s.time > cutoff for s in after)
    assert [s.id for s in operations.list_backups(store, B)] == b_before
