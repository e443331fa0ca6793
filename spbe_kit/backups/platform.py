"""The platform's side of a tenant whose backups go to the store (catalog ``backup.destination: store``).

Before the engine creates the tenant's backup jobs in the platform's backup namespace:

- the tenant is admitted to the store: its append-only identity and its (empty) repository;
- the namespace exists, fenced like a tenant's: Pod Security ``restricted``, default-deny, and egress
  only to DNS, to the tenants' databases (port 5432) and to the store's S3 port; auditors may read
  the jobs there, nobody but the platform reads its Secrets (no tenant admin is bound there);
- the values of the jobs' Secret that only the platform knows (``Manifest.platform_keys``: where the
  tenant's repository is, its store identity, its repository password) are given to the stack.

The namespace and its fence are the platform's, shared by every tenant, so no tenant's stack owns
them: they are applied here, server-side, idempotently.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client

from spbe_kit.backups import admission
from spbe_kit.backups.job import store_values
from spbe_kit.backups.store import StoreSettings, load_settings
from spbe_kit.catalog.model import Catalog
from spbe_kit.errors import BackupError, ProvisionError
from spbe_kit.kubeclient import api_client, object_path

FIELD_MANAGER = "spbe-kit-platform"
#: marks the platform's backup namespace (never the tenant label: it is no tenant)
PLATFORM_LABEL = "spbe.go.id/platform"
LABEL_TENANT = "spbe.go.id/tenant"  # spbe_kit.desired.context.LABEL_TENANT (backups stand below the desired state)
MANAGED_BY = {"app.kubernetes.io/managed-by": "spbe-kit", "app.kubernetes.io/part-of": "spbe"}
Progress = Callable[[str], None]
# a tenant's desired state (spbe_kit.desired.model.DesiredState) and its manifests, duck-typed here
DesiredState = Any
Manifest = Any


def store_secrets(state: DesiredState) -> list[Manifest]:
    """The Secrets of ``state`` with values only the platform gives."""
    return [m for m in state.manifests if m.platform_keys]


def store_settings(state: DesiredState) -> StoreSettings:
    try:
        return load_settings()
    except BackupError as exc:
        raise ProvisionError(
            f"catalog {state.catalog_version} keeps {state.tenant_id}'s backups in the platform's backup store, "
            f"and {exc.message}", hint=exc.hint or "") from None


def platform_values(state: DesiredState) -> dict[str, dict[str, str]]:
    """Secret name -> the values of its platform keys (empty when the tenant's backups stay in the tenant)."""
    secrets = store_secrets(state)
    if not secrets:
        return {}
    values = store_values(store_settings(state), state.tenant_id)
    return {m.name: {k: values[k] for k in m.platform_keys} for m in secrets}


def store_addresses(endpoint: str) -> tuple[list[str], int]:
    """The IPv4 addresses and port the pods' store endpoint resolves to (for the namespace's egress policy)."""
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    try:
        return [str(ipaddress.IPv4Address(host))], port
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        raise ProvisionError(f"the backup store's host {host} does not resolve here: {exc}",
                             hint="set SPBE_BACKUP_STORE_POD_ENDPOINT to the address the cluster's pods reach "
                                  "the store at") from None
    return sorted({info[4][0] for info in infos}), port


def namespace_objects(catalog: Catalog, settings: StoreSettings) -> list[dict[str, Any]]:
    """The platform's backup namespace and its fence."""
    namespace = catalog.backup.namespace
    assert namespace
    platform = catalog.platform
    addresses, port = store_addresses(settings.pod_endpoint or settings.endpoint)
    labels = {**MANAGED_BY, PLATFORM_LABEL: "backups"}

    def meta(name: str) -> dict[str, Any]:
        return {"name": name, "namespace": namespace, "labels": labels}

    def policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(name), "spec": spec}

    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {
            **labels, "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": platform.pod_security_version}}},
        policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        policy("allow-dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": platform.dns_namespace}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
        policy("allow-tenant-databases", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchExpressions": [{"key": LABEL_TENANT, "operator": "Exists"}]},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "database"}}}],
            "ports": [{"protocol": "TCP", "port": 5432}]}]}),
        policy("allow-backup-store", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"ipBlock": {"cidr": f"{address}/32"}} for address in addresses],
            "ports": [{"protocol": "TCP", "port": port}]}]}),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("auditor"), "rules": [
            {"apiGroups": [""], "resources": ["pods", "serviceaccounts", "events"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
            {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["get", "list", "watch"]},
        ]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("auditor"),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "auditor"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": platform.auditor_group}]},
    ]


def _apply(api: client.ApiClient, body: dict[str, Any]) -> None:
    """Server-side apply of one object (the official client has no generic apply)."""
    meta = body["metadata"]
    path = object_path(body["kind"], meta.get("namespace"), meta["name"])
    method, url, headers, payload, post = api.param_serialize(
        "PATCH", path, query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
        header_params={"Accept": "application/json", "Content-Type": "application/apply-patch+yaml"},
        body=body, auth_settings=["BearerToken"])
    try:
        response = api.call_api(method, url, headers, payload, post)
        response.read()
    except Exception as exc:  # urllib3 errors: the cluster is not reachable
        raise ProvisionError(f"cannot reach the cluster to prepare the backup namespace: {exc}",
                             hint="is it running? `spbe cluster status`") from None
    status = response.status
    if not 200 <= status < 300:
        try:
            data = json.loads(response.data or b"{}")
        except ValueError:
            data = {}
        message = data.get("message", "") if isinstance(data, dict) else ""
        raise ProvisionError(f"cannot apply the platform's backup namespace ({body['kind']}/{meta['name']}): "
                             f"HTTP {status} {message}",
                             hint="provision with credentials that may manage namespaces, policies and roles")


def prepare(state: DesiredState, catalog: Catalog, kubeconfig: Path, context: str | None,
            progress: Progress) -> None:
    """Admit the tenant to the store and make sure the backup namespace and its fence exist (idempotent)."""
    if not store_secrets(state):
        return
    settings = store_settings(state)
    done = admission.admit(settings, state.tenant_id)
    if done.identity == "added" or done.repository == "created":
        progress(f"admitted {state.tenant_id} to the backup store (identity {done.identity}, "
                 f"repository {done.repository})")
    with api_client(kubeconfig, context) as api:
        for body in namespace_objects(catalog, settings):
            _apply(api, body)
    addresses, _ = store_addresses(settings.pod_endpoint or settings.endpoint)
    if all(ipaddress.IPv4Address(a).is_loopback for a in addresses):
        progress(f"note: the backup store is at {settings.pod_endpoint or settings.endpoint}, which no pod reaches: "
                 "the backup jobs will fail until SPBE_BACKUP_STORE_POD_ENDPOINT (or `spbe cluster up --real-node` "
                 "locally) gives them an address")
