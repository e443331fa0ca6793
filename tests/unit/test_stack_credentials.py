"""Kit-generated credentials: read back from the stack's state, kept, rotated only on request."""

from __future__ import annotations

import datetime
import json
import os
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from spbe_kit.provision.backend_locks import LockStore, StackLock, redact_url
from spbe_kit.stacks import credentials as creds

SIG = creds.SECRET_SIG


def _secret(value):
    """A value as `pulumi stack export --show-secrets` writes a decrypted secret."""
    return {SIG: "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(value)}


def _deployment(values: dict[str, dict[str, str]], pending: dict[str, dict[str, str]] | None = None) -> dict:
    def res(name, data):
        return {"type": creds.SECRET_TYPE, "urn": f"urn:...::{name}",
                "inputs": {"metadata": {"name": name, "namespace": "t"}, "stringData": _secret(data)}}

    return {"resources": [res(n, d) for n, d in values.items()] + [
        {"type": "kubernetes:core/v1:ConfigMap", "inputs": {"metadata": {"name": "x"}, "data": {"a": "b"}}}],
        "pending_operations": [{"type": "creating", "resource": res(n, d)} for n, d in (pending or {}).items()]}


def test_new_password_is_long_alphanumeric_and_mixed():
    values = {creds.new_password() for _ in range(50)}
    assert len(values) == 50
    for v in values:
        assert len(v) == creds.LENGTH and v.isalnum()
        assert any(c.islower() for c in v) and any(c.isupper() for c in v) and any(c.isdigit() for c in v)


def test_values_are_read_back_from_the_exported_state_including_interrupted_creates():
    dep = _deployment({"database-superuser": {"password": "A1" * 16}}, pending={"identity-admin": {"password": "B2" * 16}})
    assert creds.from_deployment(dep) == {"database-superuser": {"password": "A1" * 16},
                                          "identity-admin": {"password": "B2" * 16}}
    assert creds.from_deployment(None) == {}
    # an encrypted (not shown) value is not readable and not invented
    encrypted = {"resources": [{"type": creds.SECRET_TYPE, "inputs": {
        "metadata": {"name": "s"}, "stringData": {SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "xx"}}}]}
    assert creds.from_deployment(encrypted) == {}


#: what the platform gives the backup jobs' Secret (spbe_kit.backups.job.store_values), as a test stands it in
PLATFORM = {"kab-banyuwangi-backup": {"repository": "s3:http://10.0.0.5:8333/spbe-backups/tenants/kab-banyuwangi",
                                      "restic-password": "R" * 64, "access-key": "spbe-kab-banyuwangi",
                                      "secret-key": "S" * 40, "region": "us-east-1"}}


def test_the_platforms_values_are_taken_as_given_and_only_the_backup_roles_password_is_random(banyuwangi):
    first, new = creds.resolve(banyuwangi, {}, None, PLATFORM)
    assert {k: v for k, v in first.values["kab-banyuwangi-backup"].items() if k != "password"} == \
        PLATFORM["kab-banyuwangi-backup"]
    assert len(first.values["kab-banyuwangi-backup"]["password"]) == creds.LENGTH
    # nothing new on a re-run; a moved store (or a new master key) is new and wins over what was recorded
    assert creds.resolve(banyuwangi, first.values, None, PLATFORM)[1] == []
    moved = {"kab-banyuwangi-backup": {**PLATFORM["kab-banyuwangi-backup"],
                                       "repository": "s3:https://s3.pdn.go.id/spbe-backups/tenants/kab-banyuwangi"}}
    again, new_again = creds.resolve(banyuwangi, first.values, None, moved)
    assert new_again == ["kab-banyuwangi-backup/repository"]
    assert again.values["kab-banyuwangi-backup"]["password"] == first.values["kab-banyuwangi-backup"]["password"]
    # without the platform's values the recorded ones stay (a preview elsewhere); with neither, nothing is invented
    assert creds.resolve(banyuwangi, first.values)[0].values == first.values
    with pytest.raises(creds.PlatformValuesMissing, match="kab-banyuwangi-backup/"):
        creds.resolve(banyuwangi, {})


def test_recorded_values_are_kept_and_only_missing_or_rotated_ones_are_new(banyuwangi):
    first, new = creds.resolve(banyuwangi, {}, None, PLATFORM)
    names = creds.generated_secret_names(banyuwangi)
    assert sorted(first.values) == names
    assert len(new) == sum(len(m.generated_keys) for m in banyuwangi.manifests)

    again, new_again = creds.resolve(banyuwangi, first.values)
    assert again.values == first.values and new_again == []

    rotated, new_rot = creds.resolve(banyuwangi, first.values, rotate=["identity-admin"])
    assert rotated.values["identity-admin"] != first.values["identity-admin"]
    assert {k: v for k, v in rotated.values.items() if k != "identity-admin"} == \
        {k: v for k, v in first.values.items() if k != "identity-admin"}
    assert new_rot == [f"identity-admin/{k}" for k in banyuwangi.get("Secret", "identity-admin").generated_keys]


def test_credentials_never_show_a_value_in_repr_or_str(banyuwangi):
    c, _ = creds.resolve(banyuwangi, {}, None, PLATFORM)
    text = repr(c) + str(c) + f"{c}"
    for keys in c.values.values():
        for value in keys.values():
            assert value not in text
    assert "database-superuser" in text


def test_redact_url_masks_the_backend_password_only():
    assert redact_url("postgres://ops:s3cret@db.pdn:5432/pulumi?sslmode=require") == \
        "postgres://ops:****@db.pdn:5432/pulumi?sslmode=require"
    assert redact_url("file:///var/lib/spbe/pulumi") == "file:///var/lib/spbe/pulumi"


def test_a_lock_is_stale_only_on_this_host_with_a_dead_pid():
    dead = subprocess.Popen(["true"])
    dead.wait()
    here = socket.gethostname()
    assert StackLock("k", dead.pid, "ops", here, "t").owner_gone()
    assert not StackLock("k", os.getpid(), "ops", here, "t").owner_gone()  # alive
    assert not StackLock("k", dead.pid, "ops", "another-host", "t").owner_gone()  # never judged from here
    assert "ops@another-host (pid" in StackLock("k", 7, "ops", "another-host", "t").holder


def test_file_backend_locks_are_listed_and_removed(tmp_path):
    store = LockStore(tmp_path.as_uri(), "spbe-tenant")
    folder = tmp_path / ".pulumi/locks/organization/spbe-tenant/kab-x"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps({"pid": 1, "username": "u", "hostname": "h", "timestamp": "t"}))
    (folder / "broken.json").write_text("{")
    [lock] = store.locks("kab-x")
    assert (lock.pid, lock.hostname) == (1, "h")
    store.remove(lock)
    assert store.locks("kab-x") == [] and (folder / "broken.json").exists()


def test_values_are_read_back_from_the_base64_data_the_provider_records():
    """The kubernetes provider records stringData as base64 `data` in the inputs (seen on the real engine)."""
    import base64

    recorded = {"resources": [{"type": creds.SECRET_TYPE, "inputs": {
        "metadata": {"name": "database-identity"},
        "data": _secret({"password": base64.b64encode(b"PaFJgLWNzDspRpHhkHX9cfay7oS6OOYm").decode()})}}]}
    assert creds.from_deployment(recorded) == {"database-identity": {"password": "PaFJgLWNzDspRpHhkHX9cfay7oS6OOYm"}}


def test_removing_a_component_with_a_data_volume_is_refused_before_anything_moves(banyuwangi, catalog):
    from spbe_kit.desired import desired_state
    from spbe_kit.provision.preflight import protected_deletions
    from spbe_kit.request import parse_request

    urn = "urn:pulumi:kab-banyuwangi::spbe-tenant::spbe:tenant:Tenant$kubernetes:core/v1:PersistentVolumeClaim::"
    state_of_stack = {"resources": [
        {"type": "kubernetes:core/v1:PersistentVolumeClaim", "urn": urn + m.resource_name, "protect": True}
        for m in banyuwangi.of_kind("PersistentVolumeClaim")]}
    assert protected_deletions(banyuwangi, state_of_stack) == []
    text = banyuwangi_request_text().replace("    mail: {}\n", "").replace("    eoffice: {}\n", "")
    without_mail = desired_state(parse_request(text), catalog)
    # from catalog 2026.12 e-office (Mayan EDMS) keeps the document archive on a volume too
    assert protected_deletions(without_mail, state_of_stack) == [
        f"PersistentVolumeClaim/{name}: the change would delete this protected data volume "
        "(was a component removed from the request?)" for name in ("eoffice-data", "mail-data")]


def test_moving_onto_a_catalog_that_retires_a_volume_lets_only_that_volume_go(banyuwangi):
    """2026.11 -> 2026.12: Grafana's volume is retired by the catalog; any other lost volume is still refused."""
    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired import desired_state
    from spbe_kit.provision.preflight import protected_deletions, retired_volumes
    from spbe_kit.request import parse_request

    spec = parse_request(banyuwangi_request_text())
    old = desired_state(spec, load_catalog("2026.11"))
    urn = "urn:pulumi:kab-banyuwangi::spbe-tenant::spbe:tenant:Tenant$kubernetes:core/v1:PersistentVolumeClaim::"
    state_of_stack = {"resources": [
        {"type": "kubernetes:core/v1:PersistentVolumeClaim", "urn": urn + m.resource_name, "protect": True}
        for m in old.of_kind("PersistentVolumeClaim")]}
    new_catalog = load_catalog("2026.12")
    new = desired_state(spec, new_catalog)
    assert protected_deletions(new, state_of_stack) == [
        "PersistentVolumeClaim/grafana-data: the change would delete this protected data volume "
        "(was a component removed from the request?)"]
    assert protected_deletions(new, state_of_stack, new_catalog.retired_volumes) == []
    retiring = retired_volumes(new, state_of_stack, new_catalog.retired_volumes)
    assert [(u.rsplit("::", 1)[-1].split("-", 1)[-1], c) for u, c, _ in retiring] == [("grafana-data", "grafana-data")]
    # a retired name does not cover a volume the request itself drops
    text = banyuwangi_request_text().replace("    mail: {}\n", "").replace("    eoffice: {}\n", "")
    without_mail = desired_state(parse_request(text), new_catalog)
    assert [p.split(":")[0] for p in protected_deletions(without_mail, state_of_stack, new_catalog.retired_volumes)] == [
        "PersistentVolumeClaim/eoffice-data", "PersistentVolumeClaim/mail-data"]


def banyuwangi_request_text() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parents[2] / "examples" / "kab-banyuwangi.yaml").read_text()


def test_only_an_orphan_on_this_host_is_waited_for():
    import subprocess as sp

    parent = sp.Popen(["bash", "-c", "sleep 30 & echo $!; exit 0"], stdout=sp.PIPE, text=True)
    orphan = int(parent.stdout.readline())
    parent.wait()
    try:
        here = socket.gethostname()
        assert StackLock("k", orphan, "ops", here, "t").orphaned_here()  # reparented: its spbe is gone
        assert not StackLock("k", os.getpid(), "ops", here, "t").orphaned_here()  # has a live parent
        assert not StackLock("k", orphan, "ops", "another-host", "t").orphaned_here()
    finally:
        os.kill(orphan, 9)


def _handshake(tls: dict[str, str], name: str):
    """A TLS handshake over a socket pair: the server serves ``tls``, the client trusts only its certificate."""
    import tempfile
    import threading

    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as d:
        for key, value in tls.items():
            (Path(d) / key).write_text(value)
        server.load_cert_chain(Path(d) / "tls.crt", Path(d) / "tls.key")
    client = ssl.create_default_context(cadata=tls["tls.crt"])
    a, b = socket.socketpair()
    served = threading.Thread(target=lambda: _quietly(lambda: server.wrap_socket(b, server_side=True).close()))
    served.start()
    try:
        with client.wrap_socket(a, server_hostname=name) as conn:
            return conn.getpeercert()["subject"]
    finally:
        a.close()
        served.join(5)
        b.close()


def _quietly(action):
    try:
        action()
    except (ssl.SSLError, OSError):
        pass


def test_the_mail_certificate_is_kept_and_made_anew_only_when_rotated_renamed_or_near_its_end(banyuwangi):
    first, new = creds.resolve(banyuwangi, {}, None, PLATFORM)
    assert {"mail-tls/tls.crt", "mail-tls/tls.key"} <= set(new)
    tls = first.values["mail-tls"]
    cert = x509.load_pem_x509_certificate(tls["tls.crt"].encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sans == ["mail.banyuwangikab.go.id", "mail", "mail.kab-banyuwangi.svc", "mail.kab-banyuwangi.svc.cluster.local"]
    # a client that trusts exactly this certificate (as e-office does) accepts it for the Service name
    assert _handshake(tls, "mail") == ((("commonName", "mail.banyuwangikab.go.id"),),)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tls, "identity")

    again, new_again = creds.resolve(banyuwangi, first.values)
    assert again.values["mail-tls"] == tls and new_again == []
    rotated, new_rot = creds.resolve(banyuwangi, first.values, rotate=["mail-tls"])
    assert rotated.values["mail-tls"]["tls.crt"] != tls["tls.crt"] and new_rot == ["mail-tls/tls.crt", "mail-tls/tls.key"]
    # a certificate for other names, or one within RENEW_BEFORE_DAYS of its end, is replaced
    names = banyuwangi.get("Secret", "mail-tls").certificate_names
    assert not creds.certificate_still_good(creds.new_certificate(names[:1]), names)
    old = creds.new_certificate(names, now=datetime.datetime.now(datetime.timezone.utc)
                                - datetime.timedelta(days=creds.CERTIFICATE_DAYS - creds.RENEW_BEFORE_DAYS + 1))
    assert creds.certificate_still_good(creds.new_certificate(names), names)
    assert not creds.certificate_still_good(old, names)
    assert not creds.certificate_still_good({"tls.crt": tls["tls.crt"], "tls.key": creds.new_certificate(names)["tls.key"]}, names)
