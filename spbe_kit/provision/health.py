"""A tenant's live health: workloads ready per component, and how old its newest backup is.

Read straight from the cluster (read-only), labelled objects only, so it works for any
tenant whatever state backend provisioned it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from spbe_kit.desired.context import LABEL_CATALOG, LABEL_COMPONENT, LABEL_TENANT
from spbe_kit.errors import ProvisionError
from spbe_kit.kubeclient import api_client

BACKUP_JOB = "database-backup"
BACKUP_MAX_AGE = dt.timedelta(days=1)


@dataclass
class WorkloadHealth:
    kind: str
    name: str
    ready: int
    desired: int

    @property
    def healthy(self) -> bool:
        return self.ready >= self.desired


@dataclass
class TenantHealth:
    tenant: str
    namespace_exists: bool
    components: dict[str, list[WorkloadHealth]] = field(default_factory=dict)
    last_backup: str | None = None  # ISO time of the newest successful backup job
    catalog_version: str | None = None  # as labelled on the namespace

    @property
    def healthy(self) -> bool:
        return self.namespace_exists and all(w.healthy for ws in self.components.values() for w in ws)

    def backup_age(self, now: dt.datetime | None = None) -> dt.timedelta | None:
        if self.last_backup is None:
            return None
        return (now or dt.datetime.now(dt.timezone.utc)) - dt.datetime.fromisoformat(self.last_backup)

    def to_dict(self) -> dict:
        return {
            "tenant": self.tenant,
            "healthy": self.healthy,
            "namespaceExists": self.namespace_exists,
            "components": {c: [{**asdict(w), "healthy": w.healthy} for w in ws] for c, ws in self.components.items()},
            "lastBackup": self.last_backup,
            "namespaceCatalogVersion": self.catalog_version,
        }


def tenant_health(tenant_id: str, kubeconfig: Path, context: str | None = None) -> TenantHealth:
    """Ready replicas of every workload of the tenant, by component; the newest successful backup."""
    api = api_client(kubeconfig, context)
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    selector = f"{LABEL_TENANT}={tenant_id}"
    try:
        try:
            namespace = core.read_namespace(tenant_id)
        except ApiException as exc:
            if exc.status == 404:
                return TenantHealth(tenant_id, namespace_exists=False)
            raise
        labels = namespace.metadata.labels or {}
        health = TenantHealth(tenant_id, namespace_exists=True, catalog_version=labels.get(LABEL_CATALOG))
        workloads = [(d, "Deployment") for d in apps.list_namespaced_deployment(tenant_id, label_selector=selector).items]
        workloads += [(s, "StatefulSet") for s in apps.list_namespaced_stateful_set(tenant_id, label_selector=selector).items]
        for obj, kind in sorted(workloads, key=lambda w: (w[0].metadata.labels.get(LABEL_COMPONENT, ""), w[0].metadata.name)):
            component = obj.metadata.labels.get(LABEL_COMPONENT, "unknown")
            health.components.setdefault(component, []).append(
                WorkloadHealth(kind, obj.metadata.name, obj.status.ready_replicas or 0, obj.spec.replicas or 0)
            )
        try:
            job = batch.read_namespaced_cron_job(BACKUP_JOB, tenant_id)
            last = job.status.last_successful_time if job.status else None
            health.last_backup = last.astimezone(dt.timezone.utc).isoformat() if last else None
        except ApiException as exc:
            if exc.status != 404:
                raise
        return health
    except ApiException as exc:
        raise ProvisionError(f"cannot read tenant {tenant_id} from the cluster: HTTP {exc.status} {exc.reason}") from None
    except HTTPError as exc:
        raise ProvisionError(f"cannot reach the cluster: {exc}", hint="is it running? `spbe cluster status`") from None
