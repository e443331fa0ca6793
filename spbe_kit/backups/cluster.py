"""A tenant's PostgreSQL in the cluster, reached from the platform: a port-forward and the superuser's Secret."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from spbe_kit.backups.postgres import Server
from spbe_kit.catalog.load import backup_job_location
from spbe_kit.configure.reach import Kubectl
from spbe_kit.errors import BackupError
from spbe_kit.kubeclient import api_client
from spbe_kit.kubectl import require_kubectl
from spbe_kit.paths import local_kubeconfig

SUPERUSER_SECRET = "database-superuser"
#: the backup job's read-only login (spbe_kit.desired.database.BACKUP_ROLE; its Secret: backup_job_location)
BACKUP_ROLE = "spbe_backup"
CATALOG_LABEL = "spbe.go.id/catalog-version"  # spbe_kit.desired.context.LABEL_CATALOG


def _catalog_version(core: client.CoreV1Api, namespace: str) -> str | None:
    try:
        return (core.read_namespace(namespace).metadata.labels or {}).get(CATALOG_LABEL)
    except ApiException:
        return None


@contextmanager
def tenant_server(namespace: str, kubeconfig: Path | None = None, context: str | None = None,
                  as_backup_role: bool = False) -> Iterator[Server]:
    """The tenant's PostgreSQL on a local port over TLS, logged in as its superuser (restores) or as the
    read-only backup role (backups); the password is read from the tenant's Secret and never printed."""
    kubeconfig = kubeconfig or local_kubeconfig()
    core = client.CoreV1Api(api_client(kubeconfig, context))
    user, where, name = "postgres", namespace, SUPERUSER_SECRET
    if as_backup_role:  # its Secret is in the platform's backup namespace when the catalog sends backups to the store
        user, (where, name) = BACKUP_ROLE, backup_job_location(namespace, _catalog_version(core, namespace))
    try:
        secret = core.read_namespaced_secret(name, where)
    except ApiException as exc:
        raise BackupError(f"cannot read {where}/{name}: HTTP {exc.status} {exc.reason}",
                          hint="is the namespace a tenant with a database, and may you read its Secrets?") from None
    password = base64.b64decode((secret.data or {}).get("password", "")).decode()
    with Kubectl(require_kubectl(), kubeconfig, context, namespace).port_forward("database", 5432) as port:
        if port is None:
            raise BackupError(f"cannot reach the database of {namespace} (kubectl port-forward to svc/database failed)",
                              hint="is its database pod running? (spbe tenant status)")
        yield Server(host="127.0.0.1", port=port, user=user, password=password, sslmode="require")
