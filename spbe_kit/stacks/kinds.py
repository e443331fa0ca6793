"""Which typed pulumi-kubernetes class creates each kind of the desired state, and with what args.

The desired state's object bodies are passed through as they are (camelCase dicts are sent to
the provider unchanged), so the stack never holds a second copy of any manifest.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi_kubernetes as k8s

#: (apiVersion, kind) -> the typed resource class that owns it.
RESOURCE_CLASSES: dict[tuple[str, str], type[Any]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "Service"): k8s.core.v1.Service,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
}

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def resource_class(api_version: str, kind: str) -> type[Any]:
    """The typed class for a kind; KeyError names the kind the stack cannot create yet."""
    try:
        return RESOURCE_CLASSES[(api_version, kind)]
    except KeyError:
        raise KeyError(f"the tenant stack has no typed resource for {api_version} {kind}") from None


def constructor_args(body: dict[str, Any]) -> dict[str, Any]:
    """The body's top-level fields as keyword args (roleRef -> role_ref); apiVersion/kind are implied."""
    return {_CAMEL.sub("_", key).lower(): value for key, value in body.items() if key not in ("apiVersion", "kind")}
