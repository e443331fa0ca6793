"""Refuse a tenant change that cannot land whole, before anything is touched.

The engine applies objects one by one; a change the cluster rejects half-way leaves a tenant
half on the new tier (its quota moved, its workloads not). So before ``up`` changes an
existing tenant, every object of the desired state is sent to the API server as a
server-side apply *dry run* (admission, validation, immutable fields, Pod Security, quota
all run; nothing is stored), and volume growth is checked against the StorageClass, whose
refusal only comes when the claim is really resized. Every problem is reported at once.

A tenant whose namespace does not exist yet is not checked: creating it from nothing cannot
leave an older tenant half-changed, and a re-run converges.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from collections.abc import Callable

from kubernetes import client

from spbe_kit.catalog.quantity import parse_quantity
from spbe_kit.catalog.model import Catalog
from spbe_kit.desired.images import placeholder_images
from spbe_kit.desired.model import DesiredState, Manifest
from spbe_kit.errors import ChangeRefused, ProvisionError
from spbe_kit.kubeclient import api_client, object_path
from spbe_kit.health import SIMULATED_NODE_ANNOTATION
from spbe_kit.suspension import suspension_of

FIELD_MANAGER = "spbe-preflight"
WORKERS = 4


class _Http:
    """Raw JSON requests through the official client (it has no generic server-side apply)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def request(self, method: str, path: str, query: list[tuple[str, Any]] | None = None,
                body: Any = None, content_type: str = "application/json") -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        m, url, hdrs, payload, post = self.api.param_serialize(
            method, path, query_params=query or [], header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            response = self.api.call_api(m, url, hdrs, payload, post)
            response.read()
        except Exception as exc:  # urllib3 errors: the cluster is not reachable
            raise ProvisionError(f"cannot reach the cluster for the preflight check: {exc}",
                                 hint="is it running? `spbe cluster status`") from None
        try:
            data = json.loads(response.data) if response.data else None
        except ValueError:
            data = None
        return response.status, data


def _message(data: Any) -> str:
    return (data or {}).get("message", "rejected") if isinstance(data, dict) else "rejected"


#: how the LimitRanger and ResourceQuota admission plugins word a refusal
_GUARDRAIL_REFUSAL = re.compile(r"(maximum|minimum) \S+ usage per (Container|Pod|PersistentVolumeClaim)|exceeded quota")


def _dry_run(http: _Http, manifest: Manifest, guardrails_change: bool) -> str | None:
    """Server-side apply ``manifest`` as a dry run; the API server's refusal, or None.

    While this change also moves the quota or limits, a refusal by *their* admission is judged
    against the old ones and does not count: the engine applies the guardrails first (their own
    wave), and the desired state's objects always fit its own guardrails (unit-tested per tier).
    """
    path = object_path(manifest.kind, manifest.namespace, manifest.name)
    query = [("dryRun", "All"), ("fieldManager", FIELD_MANAGER), ("force", "true")]
    status, data = http.request("PATCH", path, query, manifest.body, "application/apply-patch+yaml")
    if 200 <= status < 300:
        return None
    message = _message(data)
    if guardrails_change and status == 403 and _GUARDRAIL_REFUSAL.search(message):
        return None
    return f"{manifest.kind}/{manifest.name}: {message}"


def _guardrails_change(http: _Http, state: DesiredState) -> bool:
    """Whether the live quota or limits differ from the desired ones (a tier change)."""
    for manifest in state.manifests:
        if manifest.kind not in ("ResourceQuota", "LimitRange"):
            continue
        status, live = http.request("GET", object_path(manifest.kind, manifest.namespace, manifest.name))
        if status != 200 or (live or {}).get("spec") != manifest.body.get("spec"):
            return True
    return False


def _storage_problems(http: _Http, state: DesiredState) -> list[str]:
    problems: list[str] = []
    classes: dict[str, dict[str, Any] | None] = {}
    for manifest in state.of_kind("PersistentVolumeClaim"):
        status, live = http.request("GET", object_path("PersistentVolumeClaim", manifest.namespace, manifest.name))
        if status == 404 or not live:
            continue
        wanted = manifest.body["spec"]["resources"]["requests"]["storage"]
        has = live.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")
        if not has or parse_quantity(wanted) == parse_quantity(has):
            continue
        name = f"PersistentVolumeClaim/{manifest.name}"
        if parse_quantity(wanted) < parse_quantity(has):
            problems.append(f"{name}: a volume cannot shrink ({has} -> {wanted}); the data would not fit")
            continue
        class_name = live.get("spec", {}).get("storageClassName") or ""
        if class_name not in classes:
            code, sc = http.request("GET", f"/apis/storage.k8s.io/v1/storageclasses/{class_name}")
            classes[class_name] = sc if code == 200 else None
        sc = classes[class_name]
        if sc is None:
            problems.append(f"{name}: its StorageClass {class_name!r} does not exist, so it cannot grow to {wanted}")
        elif not sc.get("allowVolumeExpansion"):
            problems.append(f"{name}: cannot grow {has} -> {wanted}: StorageClass {class_name!r} "
                            "does not allow volume expansion (allowVolumeExpansion is not true)")
    return problems


def check_images(state: DesiredState, catalog: Catalog, kubeconfig: Path, context: str | None,
                 progress: Callable[[str], None]) -> None:
    """Refuse placeholder images on a cluster with real nodes; on a simulated-only cluster, warn loudly.

    A placeholder digest names no image: a real kubelet could never start the pod. Simulated
    (kwok) nodes pull nothing, so there the tenant's objects can still be tried out.
    """
    names = placeholder_images(state, catalog)
    if not names:
        return
    http = _Http(api_client(kubeconfig, context))
    status, nodes = http.request("GET", "/api/v1/nodes")
    items = (nodes or {}).get("items", []) if status == 200 else []
    real = [n["metadata"]["name"] for n in items
            if (n["metadata"].get("annotations") or {}).get(SIMULATED_NODE_ANNOTATION[0]) != SIMULATED_NODE_ANNOTATION[1]]
    if real or status != 200:
        where = f"it has real nodes ({', '.join(real[:3])})" if real else "its nodes could not be listed"
        raise ChangeRefused(state.tenant_id, [f"image {n} is a placeholder in catalog {catalog.version}" for n in names],
                            hint=f"this cluster would have to pull them ({where}); build the baseline's images "
                                 "(see `spbe catalog images`) or use a catalog version without placeholders")
    progress(f"WARNING: placeholder images ({', '.join(names)}): allowed only because every node of this "
             "cluster is simulated (kwok) and pulls nothing; these pods are not real")


def _protected_gone(state: DesiredState, deployment: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """(urn, kind, object name) of protected objects the stack holds that the desired state no longer has."""
    wanted = {m.resource_name for m in state.manifests}
    gone = []
    for resource in (deployment or {}).get("resources") or []:
        urn = str(resource.get("urn", ""))
        name = urn.rsplit("::", 1)[-1]
        if resource.get("protect") and str(resource.get("type", "")).startswith("kubernetes:") and name not in wanted:
            gone.append((urn, str(resource["type"]).rsplit(":", 1)[-1], name.split("-", 1)[-1]))
    return gone


def retired_volumes(state: DesiredState, deployment: dict[str, Any] | None,
                    retired: dict[str, str]) -> list[tuple[str, str, str]]:
    """(urn, claim, why) of protected volumes the stack holds that the target catalog retires."""
    return [(urn, name, retired[name]) for urn, kind, name in _protected_gone(state, deployment)
            if kind == "PersistentVolumeClaim" and name in retired]


def protected_deletions(state: DesiredState, deployment: dict[str, Any] | None,
                        retired: dict[str, str] | None = None) -> list[str]:
    """Protected objects (namespace, data volumes) the stack holds that the desired state no longer has,
    except volumes the target catalog retires.

    The engine would update everything else first and then stop at them: refuse up front instead.
    """
    return [f"{kind}/{name}: the change would delete this protected data volume "
            "(was a component removed from the request?)"
            for _, kind, name in _protected_gone(state, deployment)
            if not (kind == "PersistentVolumeClaim" and name in (retired or {}))]


def check_not_suspended(tenant_id: str, kubeconfig: Path, context: str | None = None) -> None:
    """Refuse to converge a tenant the platform suspended: `up` would start what the suspension stopped."""
    status, body = _Http(api_client(kubeconfig, context)).request("GET", object_path("Namespace", None, tenant_id))
    record = suspension_of(body) if status == 200 else None
    if record is not None:
        raise ProvisionError(f"tenant {tenant_id} is suspended (since {record.at}, by {record.by}): not changing it",
                             hint=f"resume it first with `spbe tenant resume {tenant_id}`, then run this again")


def check_change(state: DesiredState, kubeconfig: Path, context: str | None = None,
                 deployment: dict[str, Any] | None = None, retired: dict[str, str] | None = None) -> bool:
    """Raise :class:`ChangeRefused` naming every problem; False when the tenant does not exist yet.

    ``retired``: the target catalog's retired volumes, which the change may delete."""
    removed = protected_deletions(state, deployment, retired)
    if removed:
        raise ChangeRefused(state.tenant_id, removed,
                            hint="keep the component, or take a backup and remove its volume deliberately "
                                 "(`pulumi state unprotect` on that resource) before changing the request")
    http = _Http(api_client(kubeconfig, context))
    status, _ = http.request("GET", object_path("Namespace", None, state.tenant_id))
    if status == 404:
        return False
    if status in (401, 403):
        raise ProvisionError(f"the preflight check may not read namespace {state.tenant_id} (HTTP {status})",
                             hint="provision with credentials that may manage the tenant's namespace")
    problems = _storage_problems(http, state)
    moving = _guardrails_change(http, state)
    with ThreadPoolExecutor(WORKERS) as pool:
        problems += [p for p in pool.map(lambda m: _dry_run(http, m, moving), state.manifests) if p]
    if problems:
        raise ChangeRefused(
            state.tenant_id, problems,
            hint="the tenant was left exactly as it was; fix the cause (or ask platform ops about the StorageClass) "
                 "and run `spbe tenant up` again",
        )
    return True
