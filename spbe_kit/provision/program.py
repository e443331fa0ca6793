"""The inline Pulumi program of one tenant stack: an explicit provider and the Tenant component."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_kubernetes as k8s

from spbe_kit.desired.model import DesiredState
from spbe_kit.stacks.tenant import Tenant, TenantArgs


def tenant_program(state: DesiredState, kubeconfig: str, context: str | None) -> Callable[[], None]:
    """A program creating exactly `state` in the cluster of `kubeconfig` (never the ambient one)."""

    def program() -> None:
        provider = k8s.Provider(
            "cluster",
            kubeconfig=pulumi.Output.secret(kubeconfig),
            context=context,
            enable_server_side_apply=True,
        )
        tenant = Tenant(state.tenant_id, TenantArgs(state=state, provider=provider))
        pulumi.export("namespace", tenant.namespace)
        pulumi.export("catalogVersion", state.catalog_version)
        pulumi.export("endpoints", state.endpoints())
        pulumi.export("credentials", {m.name: list(m.generated_keys) for m in state.manifests if m.generated_keys})
        pulumi.export("objects", len(state.manifests))

    return program
