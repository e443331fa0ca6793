"""The backup store's pure parts: per-tenant keys, the store's policies, settings, choosing a backup."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone

import pytest

from spbe_kit.backups import identities
from spbe_kit.backups.job import BACKUP_SCRIPT
from spbe_kit.backups.operations import choose
from spbe_kit.backups.restic import Snapshot, _parse_time
from spbe_kit.backups.store import Credentials, MasterKey, load_settings
from spbe_kit.errors import BackupError

MASTER = MasterKey(b"k" * 48)


def test_tenant_keys_are_derived_apart_and_never_shown():
    a, b = MASTER.tenant("kab-banyuwangi"), MASTER.tenant("kota-surabaya")
    assert a == MASTER.tenant("kab-banyuwangi")  # the platform can always derive them again
    assert a.repository_password != b.repository_password and a.store.secret_key != b.store.secret_key
    assert MasterKey(b"x" * 48).tenant("kab-banyuwangi").repository_password != a.repository_password
    assert a.store.access_key == "spbe-kab-banyuwangi"
    for text in (repr(a), str(a.store), repr(MASTER)):
        assert a.repository_password not in text and a.store.secret_key not in text


def test_a_short_master_key_or_a_bad_tenant_id_is_refused():
    with pytest.raises(BackupError, match="shorter than 32 bytes"):
        MasterKey(b"short")
    with pytest.raises(BackupError, match="not a tenant id"):
        MASTER.tenant("../other")


def test_a_tenant_may_append_to_its_own_repository_and_delete_only_its_locks():
    policy = identities.tenant_policy("spbe-backups", "kab-banyuwangi")
    allowed = {(a, r) for st in policy["Statement"] for a in st["Action"] for r in [st["Resource"]]}
    assert ("s3:PutObject", "arn:aws:s3:::spbe-backups/tenants/kab-banyuwangi/*") in allowed
    assert ("s3:DeleteObject", "arn:aws:s3:::spbe-backups/tenants/kab-banyuwangi/locks/*") in allowed
    assert not any(a == "s3:DeleteObject" and not r.endswith("/locks/*") for a, r in allowed)
    assert not any("DeleteObjectVersion" in a or "Bypass" in a or "PutObjectRetention" in a for a, _ in allowed)
    assert all(st["Effect"] == "Allow" for st in policy["Statement"])
    listing = next(st for st in policy["Statement"] if st["Action"] == ["s3:ListBucket"])
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["tenants/kab-banyuwangi", "tenants/kab-banyuwangi/*"]}}


def test_the_store_document_has_the_platform_the_auditors_and_each_tenant_once():
    doc = identities.store_config("spbe-backups", Credentials("spbe-platform", "s3cret"), MASTER,
                                  ["kota-surabaya", "kab-banyuwangi", "kota-surabaya"])
    names = [i["name"] for i in doc["identities"]]
    assert names == ["spbe-platform", "spbe-auditors", "spbe-tenant-kab-banyuwangi", "spbe-tenant-kota-surabaya"]
    assert identities.tenants_in(doc) == ["kab-banyuwangi", "kota-surabaya"]
    auditors = json.loads(next(p["content"] for p in doc["policies"] if p["name"] == "spbe-auditors"))
    reads = [st["Resource"] for st in auditors["Statement"] if "s3:GetObject" in st["Action"]]
    assert reads == ["arn:aws:s3:::spbe-backups/drills/*"]


def test_settings_name_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("SPBE_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("SPBE_BACKUP_STORE", raising=False)
    with pytest.raises(BackupError, match="no backup store is configured"):
        load_settings()
    monkeypatch.setenv("SPBE_BACKUP_STORE", "https://s3.pdn.go.id/")
    with pytest.raises(BackupError, match="SPBE_BACKUP_STORE_CREDENTIALS is not"):
        load_settings()
    monkeypatch.setenv("SPBE_BACKUP_STORE_CREDENTIALS", str(tmp_path / "creds"))
    (tmp_path / "creds").write_text("access_key=platform\nsecret_key=s3cr3t-value\n")
    (tmp_path / "creds").chmod(0o644)
    with pytest.raises(BackupError, match="readable by others"):
        load_settings()
    (tmp_path / "creds").chmod(0o600)
    settings = load_settings()
    assert settings.repository("kab-banyuwangi") == "s3:https://s3.pdn.go.id/spbe-backups/tenants/kab-banyuwangi"
    assert "s3cr3t-value" not in json.dumps(settings.to_public_dict()) + repr(settings)
    monkeypatch.setenv("SPBE_BACKUP_STORE", "s3.pdn.go.id")
    with pytest.raises(BackupError, match="not an http"):
        load_settings()


def _snap(day: int) -> Snapshot:
    return Snapshot(f"id{day}", f"id{day}", datetime(2026, 12, day, 1, tzinfo=timezone.utc), "t", (), ())


def test_choose_takes_the_newest_at_or_before_the_time_asked():
    snaps = [_snap(1), _snap(2), _snap(3)]
    assert choose(snaps, "t").id == "id3"
    assert choose(snaps, "t", datetime(2026, 12, 2, 12)).id == "id2"  # naive means UTC
    with pytest.raises(BackupError, match="no backup of t at or before"):
        choose(snaps, "t", datetime(2026, 11, 30))


def test_restic_times_with_nanoseconds_parse():
    assert _parse_time("2026-12-02T15:01:02.123456789+07:00").isoformat() == "2026-12-02T15:01:02.123456+07:00"
    assert _parse_time("2026-12-02T08:01:02Z").tzinfo is not None


def test_the_job_script_is_valid_bash_and_holds_no_credential():
    proc = subprocess.run(["bash", "-n"], input=BACKUP_SCRIPT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "forget" not in BACKUP_SCRIPT and "prune" not in BACKUP_SCRIPT  # retention is the platform's
    assert "--compress=0" in BACKUP_SCRIPT and "SHA256SUMS" in BACKUP_SCRIPT
    assert "AWS_SECRET_ACCESS_KEY=" not in BACKUP_SCRIPT and "PGPASSWORD=" not in BACKUP_SCRIPT.replace(
        'export PGPASSWORD="$(cat "$PGPASSWORD_FILE")"', "")


def test_the_backup_role_and_secret_names_agree_with_the_desired_state(banyuwangi):
    from spbe_kit.catalog.load import backup_job_location

    """backups may not import the desired state (layers), so the names are stated twice: they must agree."""
    from spbe_kit.backups import cluster, platform
    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired import context, database, desired_state
    from spbe_kit.request import load_request
    from tests.conftest import ROOT

    assert cluster.BACKUP_ROLE == database.BACKUP_ROLE and cluster.CATALOG_LABEL == context.LABEL_CATALOG
    assert platform.LABEL_TENANT == context.LABEL_TENANT and platform.MANAGED_BY == context.MANAGED_BY
    for state in (banyuwangi, desired_state(load_request(ROOT / "examples" / "kab-banyuwangi.yaml"),
                                            load_catalog("2026.12"))):
        secrets = {(m.namespace, m.name) for m in state.manifests if m.kind == "Secret"}
        # where the platform looks for the backup role's password is where the desired state puts it
        assert (state.tenant_id, cluster.SUPERUSER_SECRET) in secrets
        assert backup_job_location(state.tenant_id, state.catalog_version) in secrets


def test_each_connection_through_the_relay_gets_its_own_upstream():
    """One connection reset upstream (kubectl ends its forward then) must not take the next one with it."""
    import socket
    import threading

    from spbe_kit.configure.reach import _relay

    dialled, closed = [], []

    def echo_once() -> int:
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)

        def serve() -> None:
            conn, _ = srv.accept()
            with conn:
                data = conn.recv(100)
                if data == b"reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                else:
                    conn.sendall(data.upper())
            srv.close()

        threading.Thread(target=serve, daemon=True).start()
        return srv.getsockname()[1]

    def dial():
        sock = socket.create_connection(("127.0.0.1", echo_once()), timeout=10)
        dialled.append(sock)
        return sock, lambda: closed.append(True)

    with _relay(dial) as local:
        with socket.create_connection(("127.0.0.1", local), timeout=10) as first:
            first.sendall(b"reset")
            first.recv(100)
        for word in (b"dump", b"restore"):
            with socket.create_connection(("127.0.0.1", local), timeout=10) as client:
                client.sendall(word)
                assert client.recv(100) == word.upper()
    assert len(dialled) == 3


def test_postgres_release_numbers_compare_as_the_server_does():
    from spbe_kit.backups.postgres import _version_num

    assert _version_num("15.20 (Debian 15.20-0+deb12u1)") == 150020
    assert _version_num("15.18") < _version_num("15.20") < _version_num("16.1")
