"""Who may do what in a tenant namespace: tenant admins, auditors, and one account per workload.

Tenant admins run their applications but cannot touch the guardrails (quota, limits,
network policies, RBAC); auditors read everything except Secrets. No wildcards anywhere.
"""

from __future__ import annotations

from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import Manifest

COMPONENT = "guardrails"
READ = ["get", "list", "watch"]
MANAGE = ["get", "list", "watch", "create", "update", "patch", "delete"]

# (apiGroup, resources) a tenant admin manages.
ADMIN_MANAGES = [
    ("", ["pods", "services", "configmaps", "secrets", "persistentvolumeclaims"]),
    ("apps", ["deployments", "statefulsets", "replicasets"]),
    ("batch", ["jobs", "cronjobs"]),
    ("networking.k8s.io", ["ingresses"]),
    ("autoscaling", ["horizontalpodautoscalers"]),
]
# Readable by admins (to see their fence) and by auditors.
GUARDRAIL_KINDS = [
    ("", ["resourcequotas", "limitranges", "serviceaccounts", "events", "endpoints"]),
    ("networking.k8s.io", ["networkpolicies"]),
    ("policy", ["poddisruptionbudgets"]),
    ("rbac.authorization.k8s.io", ["roles", "rolebindings"]),
]
AUDITOR_READS = [
    ("", ["pods", "services", "configmaps", "persistentvolumeclaims"]),
    ("apps", ["deployments", "statefulsets", "replicasets"]),
    ("batch", ["jobs", "cronjobs"]),
    ("networking.k8s.io", ["ingresses"]),
    ("autoscaling", ["horizontalpodautoscalers"]),
] + GUARDRAIL_KINDS


def _rules(groups: list[tuple[str, list[str]]], verbs: list[str]) -> list[dict]:
    return [{"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)} for group, resources in groups]


def _role(ctx: TenantContext, name: str, rules: list[dict]) -> Manifest:
    body = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ctx.metadata(name, COMPONENT), "rules": rules}
    return Manifest(body, COMPONENT)


def _binding(ctx: TenantContext, name: str, group: str) -> Manifest:
    body = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": ctx.metadata(name, COMPONENT),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }
    return Manifest(body, COMPONENT)


def service_account(ctx: TenantContext, component: str, workload: str) -> Manifest:
    """A workload's own service account; no API token is mounted (no workload needs the API)."""
    body = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": ctx.metadata(workload, component, workload),
        "automountServiceAccountToken": False,
    }
    return Manifest(body, component)


def build(ctx: TenantContext) -> list[Manifest]:
    """Roles and bindings for tenant admins and auditors."""
    platform = ctx.catalog.platform
    admin_rules = _rules(ADMIN_MANAGES, MANAGE) + _rules([("", ["pods/log"])], ["get"]) + _rules(GUARDRAIL_KINDS, READ)
    auditor_rules = _rules(AUDITOR_READS, READ)
    return [
        _role(ctx, "spbe-tenant-admin", admin_rules),
        _binding(ctx, "spbe-tenant-admin", platform.admin_group(ctx.spec.tenant_id)),
        _role(ctx, "spbe-auditor", auditor_rules),
        _binding(ctx, "spbe-auditor", platform.auditor_group),
    ]
