"""Building blocks for workloads: hardened containers and pods, services, volumes, PDBs.

Every container gets the same securityContext, resources and pull policy from here, so the
Pod Security "restricted" profile and the catalog's sizes hold everywhere by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import CERTIFICATE_KEYS, GENERATED_KEYS_ANNOTATION, Manifest

CHECKOV_SKIP_PREFIX = "checkov.io/skip"


@dataclass(frozen=True)
class Waiver:
    """A Checkov check that does not apply to one object, with the reason written down."""

    check: str
    reason: str


@dataclass
class ContainerSpec:
    """What differs between containers; everything else is the baseline's."""

    name: str
    image: str
    ports: dict[str, int] = field(default_factory=dict)
    args: list[str] | None = None
    command: list[str] | None = None
    env: dict[str, Any] = field(default_factory=dict)
    mounts: dict[str, str] = field(default_factory=dict)
    read_only_mounts: frozenset[str] = frozenset()
    liveness: dict[str, Any] | None = None
    readiness: dict[str, Any] | None = None
    startup: dict[str, Any] | None = None
    read_only_root: bool = True


def http_probe(path: str, port: str | int, period: int = 10, failures: int = 3) -> dict[str, Any]:
    """An HTTP GET probe."""
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures}


def tcp_probe(port: str | int, period: int = 10) -> dict[str, Any]:
    """A TCP connect probe."""
    return {"tcpSocket": {"port": port}, "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": 3}


def exec_probe(command: list[str], period: int = 10) -> dict[str, Any]:
    """A probe that runs a command in the container."""
    return {"exec": {"command": command}, "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": 3}


def secret_env(secret: str, key: str) -> dict[str, Any]:
    """An env var value taken from a Secret (only where the software reads no file)."""
    return {"valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def container(ctx: TenantContext, workload: str, spec: ContainerSpec) -> dict[str, Any]:
    """A container hardened to the baseline: non-root, no privileges, RuntimeDefault seccomp."""
    size = ctx.size(workload)
    body: dict[str, Any] = {"name": spec.name, "image": spec.image, "imagePullPolicy": "Always"}
    if spec.command:
        body["command"] = list(spec.command)
    if spec.args:
        body["args"] = list(spec.args)
    if spec.env:
        body["env"] = [
            {"name": k, **v} if isinstance(v, dict) else {"name": k, "value": str(v)} for k, v in spec.env.items()
        ]
    if spec.ports:
        body["ports"] = [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in spec.ports.items()]
    body["resources"] = {
        "requests": {"cpu": size.request.cpu, "memory": size.request.memory},
        "limits": {"cpu": size.limit.cpu, "memory": size.limit.memory},
    }
    for kind, probe in (("startupProbe", spec.startup), ("livenessProbe", spec.liveness), ("readinessProbe", spec.readiness)):
        if probe:
            body[kind] = probe
    if spec.mounts:
        body["volumeMounts"] = [
            {"name": vol, "mountPath": path, **({"readOnly": True} if vol in spec.read_only_mounts else {})}
            for vol, path in spec.mounts.items()
        ]
    body["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": spec.read_only_root,
        "runAsNonRoot": True,
        "runAsUser": ctx.catalog.platform.run_as_user,
        "runAsGroup": ctx.catalog.platform.run_as_user,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return body


def pod_spec(
    ctx: TenantContext, workload: str, containers: list[dict[str, Any]], volumes: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A pod spec running as the workload's own service account, without an API token."""
    uid = ctx.catalog.platform.run_as_user
    spec: dict[str, Any] = {
        "serviceAccountName": workload,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": uid,
            "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": containers,
    }
    if volumes:
        spec["volumes"] = [{"name": name, **source} for name, source in volumes.items()]
    return spec


def empty_dir(size: str = "256Mi") -> dict[str, Any]:
    return {"emptyDir": {"sizeLimit": size}}


def secret_volume(secret: str) -> dict[str, Any]:
    return {"secret": {"secretName": secret, "defaultMode": 0o440}}


def config_volume(config_map: str) -> dict[str, Any]:
    return {"configMap": {"name": config_map, "defaultMode": 0o444}}


def claim_volume(claim: str, read_only: bool = False) -> dict[str, Any]:
    return {"persistentVolumeClaim": {"claimName": claim, **({"readOnly": True} if read_only else {})}}


def annotations_for(waivers: list[Waiver]) -> dict[str, str]:
    """Checkov's in-manifest skip annotations, one per waiver, each carrying its reason."""
    return {f"{CHECKOV_SKIP_PREFIX}{i}": f"{w.check}={w.reason}" for i, w in enumerate(waivers, start=1)}


def template(ctx: TenantContext, component: str, workload: str, pod: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": ctx.labels(component, workload)}, "spec": pod}


def deployment(
    ctx: TenantContext, component: str, workload: str, pod: dict[str, Any],
    waivers: list[Waiver] | None = None, recreate: bool = False,
) -> Manifest:
    """A Deployment of the workload's tier size; `recreate` for single-writer volumes."""
    strategy = (
        {"type": "Recreate"} if recreate
        else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    )
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ctx.metadata(workload, component, workload, annotations_for(waivers or [])),
        "spec": {
            "replicas": ctx.size(workload).replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": ctx.selector(workload)},
            "strategy": strategy,
            "template": template(ctx, component, workload, pod),
        },
    }
    return Manifest(body, component)


def statefulset(
    ctx: TenantContext, component: str, workload: str, pod: dict[str, Any], waivers: list[Waiver] | None = None
) -> Manifest:
    """A StatefulSet governed by the workload's headless Service."""
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": ctx.metadata(workload, component, workload, annotations_for(waivers or [])),
        "spec": {
            "replicas": ctx.size(workload).replicas,
            "revisionHistoryLimit": 5,
            "serviceName": f"{workload}-headless",
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": ctx.selector(workload)},
            "template": template(ctx, component, workload, pod),
        },
    }
    return Manifest(body, component)


def service(ctx: TenantContext, component: str, workload: str, ports: dict[str, tuple[int, int]], headless: bool = False) -> Manifest:
    """A ClusterIP Service (or the headless one of a StatefulSet); ports: name -> (port, targetPort)."""
    spec: dict[str, Any] = {"type": "ClusterIP"}
    if headless:
        spec["clusterIP"] = "None"
        spec["publishNotReadyAddresses"] = False
    spec["selector"] = ctx.selector(workload)
    spec["ports"] = [
        {"name": n, "port": p, "targetPort": t, "protocol": "TCP"} for n, (p, t) in ports.items()
    ]
    name = f"{workload}-headless" if headless else workload
    return Manifest({"apiVersion": "v1", "kind": "Service", "metadata": ctx.metadata(name, component, workload), "spec": spec}, component)


def volume_claim(ctx: TenantContext, component: str, name: str, size: str) -> Manifest:
    """A PersistentVolumeClaim on the cluster's default StorageClass."""
    body = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": ctx.metadata(name, component),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }
    return Manifest(body, component)


def disruption_budget(ctx: TenantContext, component: str, workload: str) -> Manifest:
    """Keep a stateful workload up during voluntary disruptions (node drains need ops to act)."""
    body = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": ctx.metadata(workload, component, workload),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": ctx.selector(workload)}},
    }
    return Manifest(body, component)


def generated_secret(ctx: TenantContext, component: str, name: str, keys: tuple[str, ...]) -> Manifest:
    """A Secret whose values the stack generates; the desired state holds only its key names."""
    meta = ctx.metadata(name, component, annotations={GENERATED_KEYS_ANNOTATION: ",".join(keys)})
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque"}
    return Manifest(body, component, generated_keys=keys)


def generated_certificate(ctx: TenantContext, component: str, name: str, dns_names: tuple[str, ...]) -> Manifest:
    """A Secret holding a certificate for ``dns_names`` and its key, which the stack generates (self-signed:
    the tenant's clients trust exactly this certificate; it never leaves the tenant)."""
    keys = CERTIFICATE_KEYS
    meta = ctx.metadata(name, component, annotations={GENERATED_KEYS_ANNOTATION: ",".join(keys)})
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque"}
    return Manifest(body, component, generated_keys=keys, certificate_names=tuple(dns_names))


def config_map(ctx: TenantContext, component: str, name: str, data: dict[str, str]) -> Manifest:
    """A ConfigMap of rendered configuration files."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ctx.metadata(name, component), "data": dict(data)}
    return Manifest(body, component)
