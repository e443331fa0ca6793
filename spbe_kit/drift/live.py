"""Read what the cluster holds for tenants: one paginated list per kind, counted, in parallel.

For one tenant the lists are namespaced; for several (fleet mode) each kind is listed once
across the cluster and split by namespace, so the number of API requests does not grow
with the number of tenants. Lists are unfiltered by label on purpose: objects someone added
to a tenant namespace carry no baseline labels, and finding them is the point.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from spbe_kit.errors import DriftError
from spbe_kit.kubeclient import KIND_PATHS

PAGE = 500
WORKERS = 4

#: kind -> (API path prefix, plural): baseline kinds plus the controller-made ones (unowned = stray).
KINDS = KIND_PATHS
#: what a tenant has in the platform's backup namespace (catalog backup.destination: store)
PLATFORM_KINDS = ("ServiceAccount", "Secret", "CronJob")


def platform_namespaces() -> tuple[str, ...]:
    """The platform namespaces where shipped catalogs keep objects of tenants (their backup jobs)."""
    from spbe_kit.catalog.load import available_versions, load_catalog

    found = {load_catalog(v).backup.namespace for v in available_versions()}
    return tuple(sorted(ns for ns in found if ns))


@dataclass
class Snapshot:
    """Live objects by (kind, namespace, name), the tenant namespaces, and what could not be read."""

    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)  # kinds the caller may not list
    #: (kind, namespace) the caller may not list in a platform namespace it was asked to read as well
    forbidden_in: set[tuple[str, str]] = field(default_factory=set)
    requests: int = 0
    _by_namespace: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)

    def readable(self, kind: str, namespace: str) -> bool:
        return kind not in self.forbidden and (kind, namespace) not in self.forbidden_in

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if kind == "Namespace":
            return self.namespaces.get(name)
        return self.objects.get((kind, namespace, name))

    def add(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.objects[(kind, meta["namespace"], meta["name"])] = obj
        self._by_namespace.setdefault(meta["namespace"], []).append((kind, obj))

    def in_namespace(self, namespace: str) -> list[tuple[str, dict[str, Any]]]:
        return self._by_namespace.get(namespace, [])


class Reader:
    """GETs against the API server through the official client, counting every request."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.requests = 0
        self._lock = threading.Lock()

    def list(self, path: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            query: list[tuple[str, Any]] = [("limit", PAGE)]
            if token:
                query.append(("continue", token))
            if label_selector:
                query.append(("labelSelector", label_selector))
            with self._lock:
                self.requests += 1
            method, url, headers, body, post = self.api.param_serialize(
                "GET", path, query_params=query, header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(method, url, headers, body, post)
            response.read()
            if not 200 <= response.status < 300:
                raise ApiException(status=response.status, reason=response.reason)
            page = json.loads(response.data)
            # items of a List carry no apiVersion/kind of their own; the envelope says them
            api_version, kind = page.get("apiVersion", ""), page.get("kind", "").removesuffix("List")
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items


def read(api: client.ApiClient, namespaces: list[str] | None, progress: Callable[[str], None] | None = None,
         also: tuple[str, ...] | None = None) -> Snapshot:
    """Snapshot of the tenant namespaces (all labelled ones when `namespaces` is None), and of the tenants'
    objects in the platform namespaces ``also`` (default: :func:`platform_namespaces`)."""
    also = platform_namespaces() if also is None else also
    reader = Reader(api)
    snap = Snapshot()
    try:
        try:
            for ns in reader.list("/api/v1/namespaces", label_selector="spbe.go.id/tenant"):
                snap.namespaces[ns["metadata"]["name"]] = ns
        except ApiException as exc:
            if exc.status != 403 or namespaces is None:
                raise  # fleet mode needs to see the tenant namespaces
            snap.forbidden.add("Namespace")  # a namespaced-only auditor: check inside the namespaces
        wanted = (set(namespaces) if namespaces is not None else set(snap.namespaces)) | set(also)
        if namespaces is not None and "Namespace" not in snap.forbidden:  # a tenant whose namespace lost its label
            for name in sorted(set(namespaces) - set(snap.namespaces)):
                reader.requests += 1
                try:
                    snap.namespaces[name] = api.sanitize_for_serialization(client.CoreV1Api(api).read_namespace(name))
                except ApiException as exc:
                    if exc.status != 404:
                        raise
        tenants = wanted - set(also)
        single = next(iter(tenants)) if len(tenants) == 1 else None

        def fetch(kind: str) -> tuple[str, list[dict[str, Any]] | None]:
            prefix, plural = KINDS[kind]
            path = f"{prefix}/namespaces/{single}/{plural}" if single else f"{prefix}/{plural}"
            try:
                return kind, reader.list(path)
            except ApiException as exc:
                if exc.status == 403:
                    return kind, None
                raise

        def fetch_platform(job: tuple[str, str]) -> tuple[str, str, list[dict[str, Any]] | None]:
            kind, namespace = job
            prefix, plural = KINDS[kind]
            try:
                return kind, namespace, reader.list(f"{prefix}/namespaces/{namespace}/{plural}")
            except ApiException as exc:
                if exc.status == 403:
                    return kind, namespace, None
                if exc.status == 404:
                    return kind, namespace, []
                raise

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for done, (kind, items) in enumerate(pool.map(fetch, KINDS), 1):
                if progress:
                    progress(f"read {kind} ({done}/{len(KINDS)})")
                if items is None:
                    snap.forbidden.add(kind)
                    continue
                for obj in items:
                    if obj["metadata"].get("namespace") in wanted:
                        snap.add(kind, obj)
            if single:  # a cluster-wide list already held the platform namespaces
                jobs = [(kind, ns) for ns in also for kind in PLATFORM_KINDS if kind not in snap.forbidden]
                for kind, namespace, items in pool.map(fetch_platform, jobs):
                    if items is None:
                        snap.forbidden_in.add((kind, namespace))
                        continue
                    for obj in items:
                        snap.add(kind, obj)
    except ApiException as exc:
        raise DriftError(f"the cluster refused a read: HTTP {exc.status} {exc.reason}",
                         hint="the drift check needs read access (the spbe:auditors group) to tenant namespaces") from None
    except HTTPError as exc:
        raise DriftError(f"cannot reach the cluster: {exc}", hint="check --kubeconfig and `spbe cluster status`") from None
    snap.requests = reader.requests
    return snap
