"""The tenant stack's one ComponentResource: every object of the desired state, nothing else.

Objects are created in three waves so the API server accepts them on the first try: the
namespace; then the fence and everything pods refer to (quota, limits, policies, accounts,
RBAC, secrets, config, volumes, services); then the workloads and what guards them.
Credentials are pulumi-random passwords, kept by Pulumi as secrets; the desired state only
names the keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from spbe_kit.desired.model import DesiredState, Manifest
from spbe_kit.stacks.kinds import constructor_args, resource_class

TYPE_TOKEN = "spbe:tenant:Tenant"
PASSWORD_LENGTH = 32
#: kinds whose pods or jobs need the earlier waves to exist first
WORKLOAD_KINDS = frozenset({"StatefulSet", "Deployment", "CronJob", "PodDisruptionBudget", "Ingress"})


@dataclass(frozen=True)
class TenantArgs:
    """Inputs of a tenant stack: the desired state, and the cluster to create it in."""

    state: DesiredState
    provider: k8s.Provider | None = None


def wave(manifest: Manifest) -> int:
    """0: the namespace, 1: what pods refer to, 2: workloads (see module docstring)."""
    if manifest.kind == "Namespace":
        return 0
    return 2 if manifest.kind in WORKLOAD_KINDS else 1


class Tenant(pulumi.ComponentResource):
    """One SPBE tenant: creates exactly the objects of its desired state."""

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.objects: dict[str, pulumi.CustomResource] = {}
        self.passwords: dict[str, random.RandomPassword] = {}
        waves: list[list[pulumi.Resource]] = [[], [], []]
        for manifest in args.state.manifests:
            level = wave(manifest)
            resource = self._create(manifest, args.provider, [r for earlier in waves[:level] for r in earlier])
            waves[level].append(resource)
        self.namespace = args.state.tenant_id
        self.register_outputs(
            {
                "namespace": self.namespace,
                "catalogVersion": args.state.catalog_version,
                "objects": len(self.objects),
                "endpoints": args.state.endpoints(),
                "credentials": sorted(m.name for m in args.state.manifests if m.generated_keys),
            }
        )

    def _create(self, manifest: Manifest, provider: k8s.Provider | None, after: list[pulumi.Resource]) -> pulumi.CustomResource:
        cls = resource_class(manifest.api_version, manifest.kind)
        kwargs: dict[str, Any] = constructor_args(manifest.body)
        secret_outputs: list[str] = []
        if manifest.generated_keys:
            # explicit secret: holds even where the provider's schema would not mark `result` secret
            kwargs["string_data"] = {
                key: pulumi.Output.secret(self._password(manifest, key).result) for key in manifest.generated_keys
            }
            secret_outputs = ["data", "stringData"]
        opts = pulumi.ResourceOptions(
            parent=self,
            provider=provider,
            depends_on=after,
            additional_secret_outputs=secret_outputs or None,
        )
        resource = cls(manifest.resource_name, **kwargs, opts=opts)
        self.objects[manifest.resource_name] = resource
        return resource

    def _password(self, manifest: Manifest, key: str) -> random.RandomPassword:
        name = f"{manifest.name}-{key}"
        password = random.RandomPassword(
            name,
            length=PASSWORD_LENGTH,
            special=False,  # goes into JDBC URLs, env vars and config files unescaped
            min_lower=1,
            min_upper=1,
            min_numeric=1,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.passwords[name] = password
        return password
