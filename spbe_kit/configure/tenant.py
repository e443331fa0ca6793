"""Configure a provisioned tenant: reach its components, run the roles, then verify (`tenant up`/`tenant configure`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from spbe_kit.catalog.model import Catalog
from spbe_kit.request import TenantSpec


@dataclass
class ConfigureOutcome:
    tenant: str
    status: str  # configured | unreachable | failed | simulated (nothing to configure: no real pod runs)
    problems: dict[str, str] = field(default_factory=dict)
    roles: list = field(default_factory=list)
    verification: dict | None = None

    @property
    def verified(self) -> bool:
        return self.status == "configured" and bool(self.verification) and self.verification["verified"]

    def to_dict(self) -> dict:
        from spbe_kit.configure.run import as_dicts

        return {"tenant": self.tenant, "status": self.status, "unreachable": self.problems,
                "roles": as_dicts(self.roles), "verification": self.verification}


def simulated_components(tenant_id: str, kubeconfig: Path, context: str | None = None) -> dict[str, str]:
    """Components whose pods all run on simulated (kwok) nodes: there is nothing in them to configure."""
    from spbe_kit.health import tenant_health

    live = tenant_health(tenant_id, kubeconfig, context)
    workloads = [(c, w) for c, ws in live.components.items() for w in ws]
    if not workloads or not all(w.simulated for _, w in workloads):
        return {}
    return {c: "its pods run on a simulated (kwok) node: no container runs there" for c, _ in workloads}


def configure_tenant(spec: TenantSpec, catalog: Catalog, kubeconfig: Path, context: str | None = None,
                     progress: Callable[[str], None] = lambda _: None, verify: bool = True,
                     skip_simulated: bool = False) -> ConfigureOutcome:
    """Reach every component, run the plan's roles, then (``verify``) the verification suite.

    ``skip_simulated``: when every pod of the tenant runs on simulated nodes, report status
    "simulated" (not configured, not verified) instead of trying to reach them.
    """
    from spbe_kit.kubectl import require_kubectl
    from spbe_kit.configure.credentials import read_credentials
    from spbe_kit.configure.plan import configuration_plan
    from spbe_kit.configure.reach import reach_components
    from spbe_kit.configure.run import run_plan
    from spbe_kit.desired import desired_state

    state = desired_state(spec, catalog)
    if skip_simulated:
        simulated = simulated_components(spec.tenant_id, kubeconfig, context)
        if simulated:
            progress("configure: skipped, every pod of the tenant runs on a simulated (kwok) node")
            return ConfigureOutcome(spec.tenant_id, "simulated", simulated)
    kubectl = require_kubectl()
    progress(f"configure: reaching the components of {spec.tenant_id} ...")
    with reach_components(spec, kubectl, kubeconfig, context) as reachability:
        if reachability.reach is None:
            for component, why in sorted(reachability.problems.items()):
                progress(f"configure: {component} is not reachable: {why}")
            return ConfigureOutcome(spec.tenant_id, "unreachable", reachability.problems)
        plan = configuration_plan(spec, read_credentials(state, kubeconfig, context), reachability.reach,
                                  str(kubeconfig), context, catalog)
        results = run_plan(plan, progress)
    outcome = ConfigureOutcome(spec.tenant_id, "configured" if all(r.status == "configured" for r in results)
                               else "failed", roles=results)
    if outcome.status == "configured" and verify:
        from spbe_kit.verify.hosts import cluster_targets
        from spbe_kit.verify.run import run_suite

        progress("verify: running the verification suite ...")
        outcome.verification = run_suite(*cluster_targets(state, kubeconfig, context)).to_dict()
    return outcome

