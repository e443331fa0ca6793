"""check_tenant over an in-memory snapshot: strays, owner chains, credentials (pure, no cluster)."""

from __future__ import annotations

import base64
import copy

from spbe_kit.desired import desired_state
from spbe_kit.drift.check import check_tenant, keyed_hash
from spbe_kit.drift.live import Snapshot
from spbe_kit.request import load_request

from ..conftest import ROOT

KEY = b"k" * 32


def _snapshot(state, values: str = "s3cret-value") -> Snapshot:
    snap = Snapshot()
    for i, m in enumerate(state.manifests):
        body = copy.deepcopy(m.body)
        body["metadata"]["uid"] = f"uid-{i}"
        if m.generated_keys:
            body["data"] = {k: base64.b64encode(values.encode()).decode() for k in m.generated_keys}
        if m.kind == "Namespace":
            snap.namespaces[m.name] = body
        else:
            snap.add(m.kind, body)
    return snap


def _owned(kind: str, name: str, owner_kind: str, owner_uid: str, namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
            "ownerReferences": [{"kind": owner_kind, "name": "x", "uid": owner_uid, "controller": True}]}}


def _spec():
    return load_request(ROOT / "examples" / "kab-banyuwangi.yaml")


def test_an_exact_copy_is_clean_and_hashes_every_credential(banyuwangi):
    snap = _snapshot(banyuwangi)
    result = check_tenant(_spec(), snap, KEY, None)
    assert result.findings == [] and result.objects_checked == len(banyuwangi.manifests)
    assert result.secret_hashes["identity-admin"]["password"] == keyed_hash(KEY, b"s3cret-value")
    assert "s3cret-value" not in repr(result)


def test_controller_made_objects_are_not_strays_but_a_forged_owner_is(banyuwangi):
    snap = _snapshot(banyuwangi)
    ns = banyuwangi.tenant_id
    deployment_uid = snap.get("Deployment", ns, "identity")["metadata"]["uid"]
    snap.add("ReplicaSet", _owned("ReplicaSet", "identity-7d9f", "Deployment", deployment_uid, ns))
    snap.add("Pod", _owned("Pod", "identity-7d9f-abc", "ReplicaSet", "uid-identity-7d9f", ns))
    root_ca = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": ns, "uid": "uid-ca"}}
    snap.add("ConfigMap", root_ca)
    forged = _owned("RoleBinding", "backdoor", "ConfigMap", "uid-ca", ns)  # owner exists, but RoleBindings are never controller-made
    snap.add("RoleBinding", forged)
    orphan_pod = _owned("Pod", "miner", "ReplicaSet", "uid-does-not-exist", ns)
    snap.add("Pod", orphan_pod)
    stray_deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cryptominer", "namespace": ns,
                                                                                   "uid": "uid-cryptominer"}}
    snap.add("Deployment", stray_deployment)
    snap.add("ReplicaSet", _owned("ReplicaSet", "cryptominer-5c4", "Deployment", "uid-cryptominer", ns))
    strays = {(f.object.kind, f.object.name) for f in check_tenant(_spec(), snap, KEY, None).findings}
    # the stray Deployment is reported once (its ReplicaSet is its work); forged/dangling owners don't hide anything
    assert strays == {("RoleBinding", "backdoor"), ("Pod", "miner"), ("Deployment", "cryptominer")}


def test_a_rotated_credential_shows_against_the_previous_hashes_only(banyuwangi):
    before = check_tenant(_spec(), _snapshot(banyuwangi), KEY, None).secret_hashes
    after = check_tenant(_spec(), _snapshot(banyuwangi, values="rotated"), KEY, before)
    assert {(f.kind.value, f.object.name) for f in after.findings} == {
        ("secret-changed", m.name) for m in banyuwangi.of_kind("Secret")}
    assert "rotated" not in repr(after)


def test_a_missing_or_extra_secret_key_is_drift_without_values(banyuwangi):
    snap = _snapshot(banyuwangi)
    secret = snap.get("Secret", banyuwangi.tenant_id, "identity-admin")
    secret["data"] = {"username": base64.b64encode(b"leaky").decode()}
    findings = check_tenant(_spec(), snap, KEY, None).findings
    assert {(f.object.name, f.path) for f in findings} == {("identity-admin", "data.password"), ("identity-admin", "data")}
    assert "leaky" not in repr(findings)


def test_a_deleted_namespace_is_one_missing_guardrail(banyuwangi):
    snap = _snapshot(banyuwangi)
    snap.namespaces.clear()
    findings = check_tenant(_spec(), snap, KEY, None).findings
    assert [(f.kind.value, f.object.kind, f.guardrail) for f in findings] == [("missing", "Namespace", True)]


def test_a_tenant_without_a_namespace_is_not_provisioned_not_a_list_of_missing_objects():
    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    result = check_tenant(spec, Snapshot(), b"k" * 32, None)
    assert result.status == "not-provisioned" and result.not_provisioned
    assert len(result.findings) == 1 and result.findings[0].object.kind == "Namespace"


def _cronjob(snap, state, name: str) -> dict:
    """The live CronJob where the desired state puts it (the platform's backup namespace for the backup jobs)."""
    return snap.get("CronJob", state.get("CronJob", name).namespace, name)


BACKUP_JOB = "kab-banyuwangi-backup"  # in the platform's namespace spbe-backups (catalog 2027.01 on)


def test_a_suspended_or_rescheduled_backup_job_is_drift(banyuwangi):
    """Pausing the backups (suspend: true) or moving them must show, not come out clean -- also in the platform's
    namespace, which the drift check reads beside the tenant's."""
    snap = _snapshot(banyuwangi)
    job = _cronjob(snap, banyuwangi, BACKUP_JOB)
    assert job["metadata"]["namespace"] == "spbe-backups" and job["spec"]["suspend"] is False
    job["spec"]["suspend"] = True
    findings = check_tenant(_spec(), snap, KEY, None).findings
    assert {(f.object.name, f.object.namespace, f.path) for f in findings} == {(BACKUP_JOB, "spbe-backups", "spec.suspend")}
    job["spec"]["suspend"] = False
    job["spec"]["schedule"] = "0 3 1 1 *"  # once a year
    findings = check_tenant(_spec(), snap, KEY, None).findings
    assert {(f.object.name, f.path) for f in findings} == {(BACKUP_JOB, "spec.schedule")}


def test_a_deleted_or_altered_backup_job_is_drift(banyuwangi):
    snap = _snapshot(banyuwangi)
    job = _cronjob(snap, banyuwangi, BACKUP_JOB)
    container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    script = container["command"][-1]
    container["command"][-1] = script.replace("restic --no-cache --quiet backup", "true restic --no-cache --quiet backup")
    findings = check_tenant(_spec(), snap, KEY, None).findings
    assert [(f.object.name, f.path.split(".")[0]) for f in findings] == [(BACKUP_JOB, "spec")]
    container["command"][-1] = script
    assert check_tenant(_spec(), snap, KEY, None).findings == []
    del snap.objects[("CronJob", "spbe-backups", BACKUP_JOB)]
    snap._by_namespace["spbe-backups"].remove(("CronJob", job))
    findings = check_tenant(_spec(), snap, KEY, None).findings
    assert [(f.kind.value, f.object.kind, f.object.name) for f in findings] == [("missing", "CronJob", BACKUP_JOB)]


def test_a_shortened_retention_is_drift_where_the_job_prunes_its_volume():
    """Up to 2026.12 the job prunes its own volume by the request's retentionDays (from 2027.01 the platform
    prunes the store, and no tenant credential may delete there)."""
    from spbe_kit.catalog import load_catalog

    catalog = load_catalog("2026.12")
    state = desired_state(_spec(), catalog)
    snap = _snapshot(state)
    job = snap.get("CronJob", state.tenant_id, "database-backup")
    container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert "-mtime +30 " in container["command"][-1]  # the request's retentionDays
    container["command"][-1] = container["command"][-1].replace("-mtime +30 ", "-mtime +1 ")
    findings = check_tenant(_spec(), snap, KEY, None, catalog=catalog).findings
    assert [(f.object.name, f.path.split(".")[0]) for f in findings] == [("database-backup", "spec")]


def _suspend(snap, state, replicas: dict[str, int], cronjobs: list[str]) -> None:
    """What `spbe tenant suspend` leaves: its record on the namespace, those workloads at 0, those jobs paused."""
    from spbe_kit.suspension import ANNOTATION, Suspension

    record = Suspension(at="2026-12-02T10:00:00+00:00", by="ops@pdn", backup="0123abcd", replicas=replicas, cronjobs=cronjobs)
    snap.namespaces[state.tenant_id]["metadata"].setdefault("annotations", {})[ANNOTATION] = record.to_annotation()
    for ref in replicas:
        kind, name = ref.split("/")
        snap.get(kind, state.tenant_id, name)["spec"]["replicas"] = 0
    for name in cronjobs:
        _cronjob(snap, state, name)["spec"]["suspend"] = True


def test_a_tenant_the_platform_suspended_is_reported_suspended_not_drift(banyuwangi):
    snap = _snapshot(banyuwangi)
    workloads = {f"{m.kind}/{m.name}": m.body["spec"].get("replicas", 1) for m in banyuwangi.manifests
                 if m.kind in ("Deployment", "StatefulSet")}
    cronjobs = [m.name for m in banyuwangi.manifests if m.kind == "CronJob"]
    assert len(workloads) >= 5 and BACKUP_JOB in cronjobs
    _suspend(snap, banyuwangi, workloads, cronjobs)
    result = check_tenant(_spec(), snap, KEY, None)
    assert result.findings == [] and result.status == "suspended"
    assert result.suspended == {"at": "2026-12-02T10:00:00+00:00", "by": "ops@pdn", "backup": "0123abcd"}


def test_a_suspension_hides_only_what_it_recorded(banyuwangi):
    """Scaling down or pausing what the record does not name, or changing anything else, is still drift."""
    snap = _snapshot(banyuwangi)
    _suspend(snap, banyuwangi, {"Deployment/eoffice": 1}, [])
    _cronjob(snap, banyuwangi, BACKUP_JOB)["spec"]["suspend"] = True  # not in the record
    snap.get("StatefulSet", banyuwangi.tenant_id, "database")["spec"]["replicas"] = 0  # not in the record
    snap.get("Deployment", banyuwangi.tenant_id, "eoffice")["spec"]["template"]["spec"]["containers"][0]["image"] = "x:1"
    result = check_tenant(_spec(), snap, KEY, None)
    assert result.status == "drift"
    assert sorted((f.object.name, f.path.split("[")[0]) for f in result.findings) == [
        ("database", "spec.replicas"), ("eoffice", "spec.template.spec.containers"), (BACKUP_JOB, "spec.suspend")]


def test_a_forged_or_unreadable_suspension_record_hides_nothing(banyuwangi):
    from spbe_kit.suspension import ANNOTATION

    snap = _snapshot(banyuwangi)
    _suspend(snap, banyuwangi, {"Deployment/eoffice": 1}, [BACKUP_JOB])
    snap.namespaces[banyuwangi.tenant_id]["metadata"]["annotations"][ANNOTATION] = "{not json"
    result = check_tenant(_spec(), snap, KEY, None)
    assert result.status == "drift" and len(result.findings) == 2
