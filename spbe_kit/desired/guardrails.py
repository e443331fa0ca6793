"""The tenant's fence: namespace with Pod Security "restricted", quota and limit ranges per tier."""

from __future__ import annotations

from spbe_kit.catalog.quantity import parse_quantity
from spbe_kit.desired.context import LABEL_REGION, TenantContext
from spbe_kit.desired.model import Manifest

COMPONENT = "guardrails"


def namespace(ctx: TenantContext) -> Manifest:
    """The tenant namespace, labelled with tenant id and region code, Pod Security enforced."""
    version = ctx.catalog.platform.pod_security_version
    meta = ctx.metadata(
        ctx.namespace,
        COMPONENT,
        annotations={
            "spbe.go.id/pemda": ctx.spec.pemda.name,
            "spbe.go.id/domain": ctx.spec.domain,
            "spbe.go.id/tier": ctx.spec.tier.value,
        },
        namespaced=False,
    )
    meta["labels"].update(
        {
            LABEL_REGION: ctx.spec.pemda.region_code,
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": version,
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/audit-version": version,
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": version,
        }
    )
    return Manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": meta}, COMPONENT)


def resource_quota(ctx: TenantContext) -> Manifest:
    """The tier's quota for the whole namespace."""
    body = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": ctx.metadata("spbe-quota", COMPONENT),
        "spec": {"hard": dict(ctx.tier.quota)},
    }
    return Manifest(body, COMPONENT)


def limit_range(ctx: TenantContext) -> Manifest:
    """Defaults and ceilings for containers and volume claims that don't state their own."""
    defaults = ctx.tier.container_defaults
    largest_volume = max(
        (size.storage for size in ctx.tier.workloads.values() if size.storage), key=parse_quantity
    )
    body = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": ctx.metadata("spbe-limits", COMPONENT),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "defaultRequest": {"cpu": defaults.request.cpu, "memory": defaults.request.memory},
                    "default": {"cpu": defaults.limit.cpu, "memory": defaults.limit.memory},
                    "max": {"cpu": defaults.max.cpu, "memory": defaults.max.memory},
                },
                {"type": "PersistentVolumeClaim", "max": {"storage": largest_volume}},
            ]
        },
    }
    return Manifest(body, COMPONENT)


def build(ctx: TenantContext) -> list[Manifest]:
    """Namespace, quota and limit range."""
    return [namespace(ctx), resource_quota(ctx), limit_range(ctx)]
