"""Desired state: the pure function (TenantSpec, Catalog) -> every Kubernetes object of a tenant.

No I/O happens here and the output is deterministic, so the Pulumi stack that creates a
tenant and the drift checker that audits it can never disagree about what it should be.
"""

from __future__ import annotations

from spbe_kit.catalog.model import Catalog
from spbe_kit.desired import database, eoffice, guardrails, identity, ingress, mail, monitoring, network, rbac
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import DesiredState, Manifest
from spbe_kit.request.model import Component
from spbe_kit.request.spec import TenantSpec

# Creation order: the fence first, then what runs inside it.
KIND_ORDER = (
    "Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "ServiceAccount", "Role", "RoleBinding",
    "Secret", "ConfigMap", "PersistentVolumeClaim", "Service", "StatefulSet", "Deployment", "CronJob",
    "PodDisruptionBudget", "Ingress",
)
BUILDERS = {
    Component.IDENTITY: identity.build,
    Component.DATABASE: database.build,
    Component.MAIL: mail.build,
    Component.EOFFICE: eoffice.build,
    Component.MONITORING: monitoring.build,
}


def desired_state(spec: TenantSpec, catalog: Catalog) -> DesiredState:
    """Every object the baseline says this tenant has, in creation order."""
    ctx = TenantContext(spec=spec, catalog=catalog)
    manifests: list[Manifest] = guardrails.build(ctx) + network.build(ctx) + rbac.build(ctx)
    for component in spec.ordered_components:
        manifests += BUILDERS[component](ctx)
    manifests += ingress.build(ctx)
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    ordered = sorted(manifests, key=lambda m: (rank[m.kind], m.name))
    keys = [m.key for m in ordered]
    if len(keys) != len(set(keys)):
        raise AssertionError(f"duplicate objects in the desired state of {spec.tenant_id}")
    return DesiredState(tenant_id=spec.tenant_id, catalog_version=catalog.version, manifests=tuple(ordered))


__all__ = ["DesiredState", "Manifest", "desired_state"]
