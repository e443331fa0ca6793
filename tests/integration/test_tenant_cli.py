"""`spbe tenant status | destroy` against the real cluster: live health and the backup guard.

These run before the Pulumi engine is involved (status reads the cluster directly; destroy
refuses before touching the stack), so they hold whether or not the engine is available.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
from kubernetes import client

from spbe_kit import health
from spbe_kit.catalog.load import backup_job_location

from .conftest import apply_state, request_text, tenant_state, wait_for

pytestmark = pytest.mark.integration


def spbe(cluster, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SPBE_KUBECONFIG")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "spbe_kit", *args, "--kubeconfig", str(cluster.kubeconfig)],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def running_tenant(cluster, dyn, api_client):
    from .conftest import delete_namespace

    state = tenant_state("35.10", "cli-kab-banyuwangi", tier="small")
    apply_state(dyn, state)
    apps = client.AppsV1Api(api_client)

    def ready():
        d = [apps.read_namespaced_deployment(m.name, state.tenant_id) for m in state.of_kind("Deployment")]
        s = [apps.read_namespaced_stateful_set(m.name, state.tenant_id) for m in state.of_kind("StatefulSet")]
        pending = [x.metadata.name for x in d + s if (x.status.ready_replicas or 0) < x.spec.replicas]
        return not pending, str(pending)

    wait_for("tenant workloads Ready", ready)
    yield state
    delete_namespace(api_client, state.tenant_id)


def test_status_reports_each_component_from_the_live_cluster(cluster, running_tenant):
    result = spbe(cluster, "tenant", "status", running_tenant.tenant_id, "--output", "json")
    report = json.loads(result.stdout)
    # kwok marks the pods Ready without running a probe: whether the components answer is unknown, never healthy
    assert result.returncode == 1, result.stderr
    assert report["health"] == "unknown" and report["healthy"] is False and report["problems"] == []
    assert "simulated (kwok) nodes" in report["unknown"][0]
    # the tenant's Secrets and the backup job's in the platform's namespace, every key of each
    generated = sum(len(m.generated_keys) for m in running_tenant.manifests if m.kind == "Secret")
    assert report["credentials"]["missing"] == [] and report["credentials"]["checked"] == generated > 10
    assert report["namespaceCatalogVersion"] == running_tenant.catalog_version
    workloads = {w["name"] for ws in report["components"].values() for w in ws}
    assert workloads == {m.name for m in running_tenant.manifests if m.kind in ("Deployment", "StatefulSet")}
    assert set(report["components"]) == {"identity", "database", "mail", "eoffice", "monitoring"}


def test_status_of_a_scaled_down_workload_is_not_healthy(cluster, running_tenant, api_client):
    apps = client.AppsV1Api(api_client)
    ns = running_tenant.tenant_id
    # e-office rolls by Recreate: its one pod goes, and the new one can land nowhere
    apps.patch_namespaced_deployment("eoffice", ns, {"spec": {"template": {"spec": {"nodeSelector": {"nowhere": "x"}}}}})
    try:
        wait_for("eoffice unready", lambda: (bool(health.tenant_health(ns, cluster.kubeconfig).problems), ""), 60)
        result = spbe(cluster, "tenant", "status", ns)
        assert result.returncode == 1 and "NOT HEALTHY" in result.stdout and "not ready" in result.stdout
    finally:
        apps.patch_namespaced_deployment("eoffice", ns, [{"op": "remove", "path": "/spec/template/spec/nodeSelector"}])


def test_status_of_an_empty_credential_is_not_healthy_and_a_typo_is_named(cluster, running_tenant, api_client):
    core = client.CoreV1Api(api_client)
    ns = running_tenant.tenant_id
    saved = core.read_namespaced_secret("identity-admin", ns).data
    core.patch_namespaced_secret("identity-admin", ns, {"data": {"password": ""}})
    try:
        result = spbe(cluster, "tenant", "status", ns, "--output", "json")
        report = json.loads(result.stdout)
        assert result.returncode == 1 and report["health"] == "not healthy"
        assert report["problems"] == ["credential identity-admin/password has no value"]
    finally:
        core.patch_namespaced_secret("identity-admin", ns, {"data": saved})
    typo = spbe(cluster, "tenant", "status", ns[:-1])
    assert typo.returncode == 2 and f"no tenant named {ns[:-1]} (did you mean {ns}?)" in typo.stderr
    assert len(typo.stderr.strip().splitlines()) <= 3, typo.stderr  # one block, no engine warning


def test_destroy_is_refused_when_its_final_backup_cannot_be_taken_and_touches_nothing(cluster, running_tenant,
                                                                                      api_client):
    """With the backup store beside the cluster, destroy first backs the tenant up into it; kwok's simulated
    database cannot be reached, so there is no final backup and nothing is destroyed."""
    ns = running_tenant.tenant_id
    result = spbe(cluster, "tenant", "destroy", ns, "--yes")
    assert result.returncode == 1, result.stderr
    assert f"refusing to destroy tenant {ns}: its final backup failed" in result.stderr
    assert "--force" in result.stderr
    assert client.CoreV1Api(api_client).read_namespace(ns).status.phase == "Active"


def test_without_a_backup_store_destroy_is_refused_without_a_recent_backup(cluster, running_tenant, api_client,
                                                                           tmp_path):
    ns = running_tenant.tenant_id
    no_store = {"SPBE_STATE_DIR": str(tmp_path / "state")}  # a platform that runs no backup store
    result = spbe(cluster, "tenant", "destroy", ns, "--yes", env_extra=no_store)
    assert result.returncode == 1
    assert "refusing to destroy" in result.stderr and "never completed a backup" in result.stderr
    assert "--force" in result.stderr
    assert client.CoreV1Api(api_client).read_namespace(ns).status.phase == "Active"


def test_a_backup_job_that_completes_satisfies_the_guard(cluster, running_tenant, api_client):
    ns = running_tenant.tenant_id
    batch = client.BatchV1Api(api_client)
    # the platform runs the tenant's backup job in its own namespace (catalog 2027.01 on)
    where, name = backup_job_location(ns, running_tenant.catalog_version)
    assert (where, name) == ("spbe-backups", f"{ns}-backup")
    cron = batch.read_namespaced_cron_job(name, where)
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name=f"{ns}-backup-now", owner_references=[client.V1OwnerReference(
            api_version="batch/v1", kind="CronJob", name=name, uid=cron.metadata.uid, controller=True)]),
        spec=cron.spec.job_template.spec,
    )
    batch.create_namespaced_job(where, job)
    wait_for("the backup recorded", lambda: (health.tenant_health(ns, cluster.kubeconfig).last_backup is not None, ""), 90)
    age = health.tenant_health(ns, cluster.kubeconfig).backup_age()
    assert dt.timedelta(0) <= age < health.BACKUP_MAX_AGE


def _request_file(state, tmp_path):
    """The request file of the running tenant (made as `running_tenant` makes its state)."""
    request = tmp_path / "request.yaml"
    request.write_text(request_text("35.10", state.tenant_id, tier="small"))
    return request


def test_verify_on_pods_that_cannot_exec_is_an_error_never_a_pass(cluster, running_tenant, tmp_path):
    """kwok's pods run no containers, so `kubectl exec` fails: every check must come back as an error (exit 2)."""
    result = spbe(cluster, "verify", str(_request_file(running_tenant, tmp_path)), "--output", "json")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert not report["verified"] and report["counts"]["pass"] == 0
    by_component = {}
    for r in report["results"]:
        by_component.setdefault(r["component"], set()).add(r["status"])
    assert by_component == {c: {"error"} for c in ("database", "identity", "mail", "monitoring", "eoffice")}
    assert all("cannot run commands on kubectl://" in r["detail"] for r in report["results"] if r["status"] == "error")


def test_configure_names_every_unreachable_component_and_configures_nothing(cluster, running_tenant, tmp_path,
                                                                         api_client):
    """kwok runs no containers: no exec into mail/e-office, no answer through the identity/database tunnels."""
    import base64

    result = spbe(cluster, "tenant", "configure", str(_request_file(running_tenant, tmp_path)), "--output", "json")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "unreachable" and outcome["roles"] == [] and outcome["verification"] is None
    assert set(outcome["unreachable"]) == {"identity", "database", "mail", "eoffice"}
    assert "cannot run commands in pod" in outcome["unreachable"]["mail"]
    secret = client.CoreV1Api(api_client).read_namespaced_secret("identity-admin", running_tenant.tenant_id)
    password = base64.b64decode(secret.data["password"]).decode()
    assert password not in result.stdout + result.stderr


def test_decommission_is_refused_when_its_final_backup_cannot_be_taken_and_writes_nothing(cluster, running_tenant,
                                                                                           api_client, tmp_path):
    """A decommission starts with the final backup; kwok's simulated database gives none, so no archive is
    written and the tenant stays (the whole run, on a real database, is in tests/realnode)."""
    ns = running_tenant.tenant_id
    out = tmp_path / "handover"
    result = spbe(cluster, "tenant", "decommission", ns, "--out-dir", str(out), "--yes")
    assert result.returncode == 1, result.stderr
    assert f"not decommissioning {ns}: its final backup failed" in result.stderr
    assert "nothing was deleted" in result.stderr
    assert not out.exists() or not any(out.iterdir())
    assert client.CoreV1Api(api_client).read_namespace(ns).status.phase == "Active"
    no_store = spbe(cluster, "tenant", "decommission", ns, "--out-dir", str(out), "--yes",
                    env_extra={"SPBE_STATE_DIR": str(tmp_path / "state")})
    assert no_store.returncode == 1 and "no backup store is configured" in no_store.stderr, no_store.stderr


def test_suspend_stops_every_workload_with_a_record_drift_accepts_and_resume_brings_back_exactly_that(
        cluster, running_tenant, api_client, tmp_path):
    """Suspend -> refused without a fresh backup (kwok's database gives none), then --force: workloads at zero,
    CronJobs paused, the record on the namespace; drift says 'suspended' (exit 0), status says so, `tenant up`
    is refused; suspending again changes nothing; resume restores the recorded replicas and jobs, drift is
    clean again, and resuming again changes nothing."""
    ns = running_tenant.tenant_id
    apps, batch, core = client.AppsV1Api(api_client), client.BatchV1Api(api_client), client.CoreV1Api(api_client)
    requests = tmp_path / "requests"
    requests.mkdir()
    request = requests / f"{ns}.yaml"
    request.write_text(request_text("35.10", ns, tier="small"))

    def workloads() -> dict[str, int]:
        return {**{f"Deployment/{d.metadata.name}": d.spec.replicas for d in apps.list_namespaced_deployment(ns).items},
                **{f"StatefulSet/{s.metadata.name}": s.spec.replicas for s in apps.list_namespaced_stateful_set(ns).items}}

    def drift() -> tuple[int, dict]:
        proc = spbe(cluster, "drift", ns, "--requests", str(requests), "-o", "json")
        return proc.returncode, json.loads(proc.stdout)["tenants"][0]

    before = workloads()
    assert drift()[1]["status"] == "clean" and all(n >= 1 for n in before.values())
    refused = spbe(cluster, "tenant", "suspend", ns, "--yes")
    assert refused.returncode == 1 and f"not suspending {ns}: the backup before it failed" in refused.stderr
    assert workloads() == before
    suspended = spbe(cluster, "tenant", "suspend", ns, "--yes", "--force", "-o", "json")
    assert suspended.returncode == 0, suspended.stderr
    record = json.loads(suspended.stdout)["suspension"]
    # the nightly backup the platform runs for it is paused too (the weekly check reads the store and goes on)
    assert record["replicas"] == before and record["cronjobs"] == [f"{ns}-backup"]
    assert set(workloads().values()) == {0}
    assert batch.read_namespaced_cron_job(f"{ns}-backup", "spbe-backups").spec.suspend is True
    assert batch.read_namespaced_cron_job(f"{ns}-restore-check", "spbe-backups").spec.suspend is False
    assert [p.metadata.name for p in core.list_namespaced_pod(ns).items if p.status.phase == "Running"] == []
    code, result = drift()
    assert (code, result["status"], result["findings"]) == (0, "suspended", [])
    assert result["suspended"]["by"] == record["by"]
    status = json.loads(spbe(cluster, "tenant", "status", ns, "-o", "json").stdout)
    assert status["health"] == "suspended" and status["suspendedSince"] == record["at"] and status["problems"] == []
    up = spbe(cluster, "tenant", "up", str(request), "--skip-config")
    assert up.returncode == 2 and f"tenant {ns} is suspended" in up.stderr and "spbe tenant resume" in up.stderr
    again = json.loads(spbe(cluster, "tenant", "suspend", ns, "--yes", "-o", "json").stdout)
    assert again["action"] == "already-suspended" and again["suspension"] == record
    resumed = spbe(cluster, "tenant", "resume", ns, "-o", "json")
    assert resumed.returncode == 0 and json.loads(resumed.stdout)["action"] == "resumed", resumed.stderr
    assert workloads() == before
    assert batch.read_namespaced_cron_job(f"{ns}-backup", "spbe-backups").spec.suspend is False
    assert drift()[0] == 0 and drift()[1]["status"] == "clean"
    assert json.loads(spbe(cluster, "tenant", "resume", ns, "-o", "json").stdout)["action"] == "not-suspended"
