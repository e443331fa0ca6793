"""The tenant program: an explicit provider and the Tenant component, and the outputs it exports.

One program function serves both entry points: the Automation API's inline program
(``spbe tenant up``) and the plain Pulumi project under ``stacks/tenant`` for people who run
``pulumi`` by hand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pulumi
import pulumi_kubernetes as k8s

from spbe_kit.desired.model import DesiredState
from spbe_kit.stacks.credentials import Credentials
from spbe_kit.stacks.tenant import Tenant, TenantArgs, engine_body

#: the stack output recording what an update applied (see provision.unchanged)
DIGEST_OUTPUT = "desiredStateSha256"


def desired_digest(state: DesiredState, credentials: Credentials) -> str:
    """SHA-256 of what the engine is given: objects, catalog version, credential names (never values)."""
    payload = {"catalog": state.catalog_version, "objects": [engine_body(m) for m in state.manifests],
               "credentials": {name: sorted(keys) for name, keys in credentials.values.items()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def declare_tenant(state: DesiredState, credentials: Credentials, kubeconfig: str, context: str | None,
                   request_text: str, protect_data: bool = True, digest: str | None = None) -> Tenant:
    """Declare the tenant's resources and outputs in the running Pulumi program."""
    provider = k8s.Provider(
        "cluster",
        kubeconfig=pulumi.Output.secret(kubeconfig),
        context=context,
        enable_server_side_apply=True,
    )
    tenant = Tenant(state.tenant_id, TenantArgs(state=state, credentials=credentials, provider=provider,
                                                protect_data=protect_data))
    pulumi.export("namespace", tenant.namespace)
    pulumi.export("catalogVersion", state.catalog_version)
    pulumi.export("endpoints", state.endpoints())
    pulumi.export("credentials", {m.name: list(m.generated_keys) for m in state.manifests if m.generated_keys})
    pulumi.export("objects", len(state.manifests))
    # the request as the pemda stated it (no secrets in it): lets `rotate-credentials TENANT`,
    # fleet rollouts and auditors see what this stack was built from
    pulumi.export("request", request_text)
    if digest:  # what this update applies; lets a later no-change `up` prove it has nothing to do
        pulumi.export(DIGEST_OUTPUT, digest)
    return tenant


def tenant_program(state: DesiredState, credentials: Credentials, kubeconfig: str, context: str | None,
                   request_text: str, protect_data: bool = True, digest: str | None = None) -> Callable[[], None]:
    """An inline program creating exactly ``state`` in the cluster of ``kubeconfig`` (never the ambient one)."""

    def program() -> None:
        declare_tenant(state, credentials, kubeconfig, context, request_text, protect_data, digest)

    return program
