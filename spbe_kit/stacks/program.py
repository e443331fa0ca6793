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


def desired_digest(state: DesiredState, credentials: Credentials, request_text: str = "",
                   registry: str | None = None) -> str:
    """SHA-256 of what an update records: objects, catalog version, credential names (never values), the request."""
    payload = {"catalog": state.catalog_version, "objects": [engine_body(m) for m in state.manifests],
               "credentials": {name: sorted(keys) for name, keys in credentials.values.items()},
               "request": request_text, "registry": registry or ""}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def declare_tenant(state: DesiredState, credentials: Credentials, cluster: str, context: str | None,
                   request_text: str, protect_data: bool = True, digest: str | None = None,
                   registry: str | None = None) -> Tenant:
    """Declare the tenant's resources and outputs in the running Pulumi program.

    The provider takes the cluster's credentials from ``KUBECONFIG`` in the engine's environment,
    which the caller sets to the resolved file: they are never recorded in the state, so a refresh
    after renewed certificates or a rebuilt cluster uses the current ones. ``cluster`` (the API
    server URL) is recorded instead, so a run against another cluster can be refused.
    """
    provider = k8s.Provider("cluster", context=context, enable_server_side_apply=True)
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
    pulumi.export("registry", registry or "")  # the image mirror the tenant runs from ("" = upstream)
    pulumi.export("clusterServer", cluster)
    pulumi.export("workloads", sorted(f"{m.kind}/{m.name}" for m in state.manifests
                                      if m.kind in ("Deployment", "StatefulSet")))
    if digest:
        # what this update applied, for a later no-change `up` to prove it has nothing to do; it resolves
        # only once every object exists, so an update that fails part-way never records it
        pulumi.export(DIGEST_OUTPUT, pulumi.Output.all(*(o.id for o in tenant.objects.values())).apply(lambda _: digest))
    return tenant


def tenant_program(state: DesiredState, credentials: Callable[[], Credentials], cluster: str, context: str | None,
                   request_text: str, protect_data: bool = True, registry: str | None = None) -> Callable[[], None]:
    """An inline program creating exactly ``state`` in ``cluster`` (the engine's KUBECONFIG points at it).

    ``credentials`` is called when the program runs, that is while the engine holds the stack's
    lock, so the values it reads back from the state cannot be overtaken by another operator's run.
    """

    def program() -> None:
        values = credentials()
        declare_tenant(state, values, cluster, context, request_text, protect_data,
                       desired_digest(state, values, request_text, registry), registry)

    return program
