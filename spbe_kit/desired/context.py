"""What every builder needs to know about one tenant: spec, catalog, sizes, names and labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spbe_kit.catalog.model import Catalog, TierSpec, WorkloadSize
from spbe_kit.request.spec import TenantSpec

LABEL_TENANT = "spbe.go.id/tenant"
LABEL_COMPONENT = "spbe.go.id/component"
LABEL_CATALOG = "spbe.go.id/catalog-version"
LABEL_REGION = "spbe.go.id/region-code"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
MANAGED_BY = {"app.kubernetes.io/managed-by": "spbe-kit", "app.kubernetes.io/part-of": "spbe"}


@dataclass(frozen=True)
class TenantContext:
    """A tenant request together with the catalog version it is built from."""

    spec: TenantSpec
    catalog: Catalog

    @property
    def namespace(self) -> str:
        return self.spec.tenant_id

    @property
    def tier(self) -> TierSpec:
        return self.catalog.tiers[self.spec.tier]

    def size(self, workload: str) -> WorkloadSize:
        """How big a workload is in this tenant's tier."""
        return self.tier.workloads[workload]

    def host(self, prefix: str) -> str:
        """A public host name under the tenant's domain, e.g. sso.banyuwangikab.go.id."""
        return f"{prefix}.{self.spec.domain}"

    def labels(self, component: str, workload: str | None = None) -> dict[str, str]:
        """Labels on every object: tenant, component, catalog version (and workload name)."""
        labels = {
            LABEL_TENANT: self.spec.tenant_id,
            LABEL_COMPONENT: component,
            LABEL_CATALOG: self.catalog.version,
            **MANAGED_BY,
        }
        if workload:
            labels[LABEL_NAME] = workload
            labels[LABEL_INSTANCE] = self.spec.tenant_id
        return labels

    def selector(self, workload: str) -> dict[str, str]:
        """The immutable selector of a workload's pods (no version in it, so upgrades can roll)."""
        return {LABEL_NAME: workload, LABEL_INSTANCE: self.spec.tenant_id}

    def metadata(
        self,
        name: str,
        component: str,
        workload: str | None = None,
        annotations: dict[str, str] | None = None,
        namespaced: bool = True,
    ) -> dict[str, Any]:
        """Object metadata with the tenant's namespace and labels."""
        meta: dict[str, Any] = {"name": name}
        if namespaced:
            meta["namespace"] = self.namespace
        meta["labels"] = self.labels(component, workload)
        if annotations:
            meta["annotations"] = dict(sorted(annotations.items()))
        return meta
