"""Which cluster a command talks to, and a Kubernetes API client for exactly that one.

Shared by provisioning (`tenant up/status/destroy`) and the read-only drift checker. The
target is never the ambient KUBECONFIG by accident: an explicit path, then SPBE_KUBECONFIG,
then the local cluster's kubeconfig.
"""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes import client, config

from spbe_kit.errors import KubeconfigError
from spbe_kit.paths import local_kubeconfig


#: kind -> (API path prefix, plural) of every namespaced kind the kit creates or inspects.
KIND_PATHS: dict[str, tuple[str, str]] = {
    "ResourceQuota": ("/api/v1", "resourcequotas"),
    "LimitRange": ("/api/v1", "limitranges"),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies"),
    "ServiceAccount": ("/api/v1", "serviceaccounts"),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings"),
    "Secret": ("/api/v1", "secrets"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims"),
    "Service": ("/api/v1", "services"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "CronJob": ("/apis/batch/v1", "cronjobs"),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets"),
    "Ingress": ("/apis/networking.k8s.io/v1", "ingresses"),
    "HorizontalPodAutoscaler": ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "Pod": ("/api/v1", "pods"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "Job": ("/apis/batch/v1", "jobs"),
}


def object_path(kind: str, namespace: str | None, name: str) -> str:
    """The API path of one object (``/api/v1/namespaces/NS/secrets/NAME``); Namespaces included."""
    if kind == "Namespace":
        return f"/api/v1/namespaces/{name}"
    prefix, plural = KIND_PATHS[kind]
    return f"{prefix}/namespaces/{namespace}/{plural}/{name}"


def cluster_server(kubeconfig: Path, context: str | None = None) -> str:
    """The API server URL the kubeconfig's (given or current) context points at."""
    import yaml

    try:
        data = yaml.safe_load(kubeconfig.read_text()) or {}
        name = context or data.get("current-context")
        ctx = next(c["context"] for c in data.get("contexts", []) if c.get("name") == name)
        return next(c["cluster"]["server"] for c in data.get("clusters", []) if c.get("name") == ctx.get("cluster"))
    except (OSError, yaml.YAMLError, StopIteration, KeyError, TypeError, AttributeError):
        raise KubeconfigError(f"cannot tell which cluster {kubeconfig} points at (context {context or 'current'})",
                              hint="check the kubeconfig's contexts and clusters") from None


def resolve_kubeconfig(explicit: Path | None = None) -> Path:
    """The kubeconfig to use; KubeconfigError when there is none."""
    chosen = explicit or (Path(os.environ["SPBE_KUBECONFIG"]) if os.environ.get("SPBE_KUBECONFIG") else local_kubeconfig())
    if not chosen.is_file():
        raise KubeconfigError(
            f"no kubeconfig at {chosen}",
            hint="start the local cluster with `spbe cluster up`, or pass --kubeconfig for another cluster",
        )
    return chosen


def api_client(kubeconfig: Path, context: str | None = None) -> client.ApiClient:
    """A client for exactly this kubeconfig (never the ambient one)."""
    try:
        return config.new_client_from_config(config_file=str(kubeconfig), context=context)
    except (config.ConfigException, OSError, ValueError) as exc:
        raise KubeconfigError(f"cannot use the kubeconfig {kubeconfig}: {exc}") from None
