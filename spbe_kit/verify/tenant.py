"""What `spbe verify` checks for one provisioned tenant: its pods and the facts of its recorded baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spbe_kit.errors import SpbeError
from spbe_kit.verify.targets import Targets


@dataclass
class TenantTargets:
    """The targets of a tenant's running pods, the components expected, and what could not be targeted."""

    targets: Targets
    expected: list[str]
    catalog_version: str
    warnings: list[str] = field(default_factory=list)


def tenant_targets(request: Path, registry: str | None, kubeconfig: Path, context: str | None = None) -> TenantTargets:
    """Targets for the tenant of ``request``, checked against the catalog version recorded on its namespace
    (as drift does), so a tenant not yet moved to a newer catalog is not judged by it."""
    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired import desired_state
    from spbe_kit.health import tenant_health
    from spbe_kit.request import load_request
    from spbe_kit.verify.hosts import cluster_targets

    spec = load_request(request)
    live = tenant_health(spec.tenant_id, kubeconfig, context)
    if not live.namespace_exists:
        raise SpbeError(f"tenant {spec.tenant_id} is not provisioned (no namespace {spec.tenant_id})",
                        hint="bring it up with `spbe tenant up REQUEST` first")
    catalog = load_catalog(live.catalog_version, registry)
    state = desired_state(spec, catalog)
    targets, components = cluster_targets(state, kubeconfig, context)
    warnings = [f"{c}: {targets.unchecked[c]}; unverified" if c in targets.unchecked else
                f"{c}: no running pod found in namespace {state.tenant_id}; its checks are unverified"
                for c in components if c not in targets.targets]
    return TenantTargets(targets, components, catalog.version, warnings)
