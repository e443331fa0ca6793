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


#: the API groups whose types the tenant program builds (object metadata included)
_GROUPS_USED = ("meta", "core", "apps", "batch", "networking", "rbac", "policy")


def preload() -> None:
    """Load the pulumi-kubernetes modules the tenant program uses, now, in the calling thread.

    pulumi-kubernetes imports its API groups lazily, and that lazy load is not thread-safe: a module
    is marked loaded before its body has run, so a second thread building resources at the same
    moment finds it empty ("module 'pulumi_kubernetes.meta.v1' has no attribute 'ObjectMetaArgs'",
    seen when `spbe fleet` ran four tenants' `up` in parallel). Call before starting parallel runs.
    """
    import sys

    assert k8s.meta.v1.ObjectMetaArgs and k8s.meta.v1.outputs.ObjectMeta and k8s.Provider
    for _ in range(5):  # loading one module may register further lazy ones
        lazy = [m for name, m in list(sys.modules.items())
                if type(m).__name__ == "_LazyModule" and name.startswith("pulumi_kubernetes.")
                and name.split(".")[1] in _GROUPS_USED and name.count(".") <= 2
                and (name.count(".") == 1 or name.rsplit(".", 1)[1] == "v1")]
        if not lazy:
            return
        for module in lazy:
            getattr(module, "__all__", None)  # any attribute outside the introspection ones loads it
