"""Suspending a tenant (every workload scaled to zero, its CronJobs paused; its volumes, Secrets and backups
kept) and resuming it exactly as it was.

Suspend, in this order: a backup into the store (when one is configured; refused when it fails unless
forced), then the record on the Namespace (spbe_kit.suspension) -- written before anything stops, so a
suspend cut short is still resumable -- then the scaling and pausing, then the wait until no pod of the
tenant runs. Resume undoes exactly what the record says, removes the record last, and waits until each workload
it brought back is Ready. Both are idempotent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from spbe_kit.backups.store import StoreSettings
from spbe_kit.evidence import operator
from spbe_kit.errors import BackupError, DestroyRefused, SpbeError
from spbe_kit.desired.context import LABEL_CATALOG
from spbe_kit.catalog.load import backup_job_location
from spbe_kit.health import tenant_health
from spbe_kit.kubeclient import api_client
from spbe_kit.suspension import ANNOTATION, Suspension, suspension_of

Progress = Callable[[str], None]
SCALED_KINDS = ("Deployment", "StatefulSet")


class SuspendRefused(DestroyRefused):
    """Stopping the tenant would leave it without a recent backup, and --force was not given (exit 1)."""


@dataclass(frozen=True)
class SuspendResult:
    tenant: str
    action: str  # suspended | already-suspended | resumed | not-suspended
    suspension: Suspension | None
    seconds: float

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return {"tenant": self.tenant, "action": self.action, "seconds": round(self.seconds, 1),
                "suspension": asdict(self.suspension) if self.suspension else None}




def _namespace(core: client.CoreV1Api, api: client.ApiClient, tenant_id: str) -> dict:
    try:
        return api.sanitize_for_serialization(core.read_namespace(tenant_id))
    except ApiException as exc:
        if exc.status == 404:
            raise SpbeError(f"tenant {tenant_id} is not provisioned (no namespace {tenant_id})",
                            hint="`spbe tenant status` lists what runs") from None
        raise


def _workloads(apps: client.AppsV1Api, tenant_id: str) -> dict[str, int]:
    out = {}
    for kind, lister in (("Deployment", apps.list_namespaced_deployment), ("StatefulSet", apps.list_namespaced_stateful_set)):
        for obj in lister(tenant_id).items:
            out[f"{kind}/{obj.metadata.name}"] = obj.spec.replicas if obj.spec.replicas is not None else 1
    return out


def _scale(apps: client.AppsV1Api, tenant_id: str, ref: str, replicas: int) -> None:
    kind, name = ref.split("/", 1)
    patch = {"spec": {"replicas": replicas}}
    if kind == "Deployment":
        apps.patch_namespaced_deployment(name, tenant_id, patch)
    else:
        apps.patch_namespaced_stateful_set(name, tenant_id, patch)


def _running_pods(core: client.CoreV1Api, tenant_id: str) -> list[str]:
    """Pods of the tenant's workloads still there (a finished Job's pods do not count)."""
    pods = core.list_namespaced_pod(tenant_id).items
    return sorted(p.metadata.name for p in pods
                  if not any(o.kind == "Job" for o in (p.metadata.owner_references or []))
                  and p.status.phase not in ("Succeeded", "Failed"))


def _cronjob_namespace(tenant_id: str, name: str, namespace: dict) -> str:
    """Where a recorded CronJob is: the tenant's namespace, or the platform's for its backup job there."""
    where, job = backup_job_location(tenant_id, (namespace["metadata"].get("labels") or {}).get(LABEL_CATALOG))
    return where if name == job else tenant_id


def _platform_backup_job(batch: client.BatchV1Api, tenant_id: str, namespace: dict) -> tuple[str, str] | None:
    """(namespace, name) of the tenant's running backup CronJob in the platform's namespace, if it has one."""
    where, job = backup_job_location(tenant_id, (namespace["metadata"].get("labels") or {}).get(LABEL_CATALOG))
    if where == tenant_id:
        return None
    try:
        cronjob = batch.read_namespaced_cron_job(job, where)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return None if cronjob.spec.suspend else (where, job)


def suspend(tenant_id: str, kubeconfig: Path, context: str | None, store: StoreSettings | None, force: bool = False,
            progress: Progress = lambda _: None, timeout: float = 600) -> SuspendResult:
    """See the module's text."""
    started = time.monotonic()
    with api_client(kubeconfig, context) as api:
        core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
        namespace = _namespace(core, api, tenant_id)
        existing = suspension_of(namespace)
        if existing:
            progress(f"{tenant_id} is already suspended (since {existing.at}, by {existing.by})")
            return SuspendResult(tenant_id, "already-suspended", existing, time.monotonic() - started)
        backup = None
        if store is not None:
            from spbe_kit.lifecycle.final_backup import take_final_backup

            try:
                backup = take_final_backup(store, tenant_id, kubeconfig, context, progress).id
            except BackupError as exc:
                if not force:
                    raise SuspendRefused(f"not suspending {tenant_id}: the backup before it failed ({exc.message}); "
                                         "nothing was stopped",
                                         hint="check its database with `spbe tenant status`, or pass --force to "
                                              "suspend without a fresh backup") from None
                progress(f"warning: suspending {tenant_id} without a fresh backup (--force): {exc.message}")
        running = {ref: n for ref, n in _workloads(apps, tenant_id).items() if n > 0}
        cronjobs = sorted(c.metadata.name for c in batch.list_namespaced_cron_job(tenant_id).items if not c.spec.suspend)
        platform_job = _platform_backup_job(batch, tenant_id, namespace)
        if platform_job:  # the nightly backup the platform runs for it would only fail against a stopped database
            cronjobs.append(platform_job[1])
        record = Suspension(at=datetime.now(timezone.utc).isoformat(timespec="seconds"), by=operator(), backup=backup,
                            replicas=running, cronjobs=cronjobs)
        core.patch_namespace(tenant_id, {"metadata": {"annotations": {ANNOTATION: record.to_annotation()}}})
        for name in cronjobs:
            batch.patch_namespaced_cron_job(name, _cronjob_namespace(tenant_id, name, namespace),
                                            {"spec": {"suspend": True}})
        for ref in sorted(running):
            _scale(apps, tenant_id, ref, 0)
        progress(f"{tenant_id}: {len(running)} workload(s) scaled to 0, {len(cronjobs)} CronJob(s) paused; "
                 "waiting for its pods to stop ...")
        deadline = time.monotonic() + timeout
        while (left := _running_pods(core, tenant_id)) and time.monotonic() < deadline:
            time.sleep(2)
        if left:
            raise SpbeError(f"{tenant_id} is suspended but {len(left)} pod(s) still run after {timeout:.0f}s: "
                            f"{', '.join(left[:5])}", hint="see `kubectl -n {tenant_id} get pods`; running suspend again "
                                                          "waits again".replace("{tenant_id}", tenant_id))
    progress(f"{tenant_id} suspended: its volumes, Secrets and backups are kept; `spbe tenant resume {tenant_id}` "
             "brings it back")
    return SuspendResult(tenant_id, "suspended", record, time.monotonic() - started)


def resume(tenant_id: str, kubeconfig: Path, context: str | None, progress: Progress = lambda _: None,
           timeout: float = 900) -> SuspendResult:
    """See the module's text."""
    started = time.monotonic()
    with api_client(kubeconfig, context) as api:
        core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
        namespace = _namespace(core, api, tenant_id)
        record = suspension_of(namespace)
        if record is None:
            progress(f"{tenant_id} is not suspended: nothing to resume")
            return SuspendResult(tenant_id, "not-suspended", None, time.monotonic() - started)
        present = _workloads(apps, tenant_id)
        for ref, replicas in sorted(record.replicas.items()):
            if ref in present:
                _scale(apps, tenant_id, ref, replicas)
        for name in record.cronjobs:
            try:
                batch.patch_namespaced_cron_job(name, _cronjob_namespace(tenant_id, name, namespace),
                                                {"spec": {"suspend": False}})
            except ApiException as exc:
                if exc.status != 404:
                    raise
        core.patch_namespace(tenant_id, {"metadata": {"annotations": {ANNOTATION: None}}})
    progress(f"{tenant_id}: {len(record.replicas)} workload(s) scaled back, {len(record.cronjobs)} CronJob(s) running "
             "again; waiting until they are Ready ...")
    _wait_restored(tenant_id, kubeconfig, context, set(record.replicas), timeout, progress)
    return SuspendResult(tenant_id, "resumed", record, time.monotonic() - started)


def _wait_restored(tenant_id: str, kubeconfig: Path, context: str | None, refs: set[str], timeout: float,
                   progress: Progress) -> None:
    """Until every workload the suspension recorded is Ready again (one that was already at zero before the
    suspension is not the resume's to start)."""
    deadline, shown = time.monotonic() + timeout, ""
    while True:
        live = tenant_health(tenant_id, kubeconfig, context)
        pending = sorted(f"{w.kind}/{w.name} {w.ready}/{w.desired}" for ws in live.components.values() for w in ws
                         if f"{w.kind}/{w.name}" in refs and w.ready < w.desired)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise SpbeError(f"{tenant_id} is resumed but not Ready after {timeout:.0f}s: {', '.join(pending)}",
                            hint=f"look at its pods: kubectl -n {tenant_id} get pods; `spbe tenant status {tenant_id}`")
        if ", ".join(pending) != shown:
            shown = ", ".join(pending)
            progress(f"waiting for {shown}")
        time.sleep(3)
