"""Which pod may talk to which: one flow table, turned into default-deny NetworkPolicies.

A flow exists only if both ends are in the tenant, so leaving out a component also
removes every path to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spbe_kit.catalog.load import dashboards_image
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import Manifest
from spbe_kit.request.model import Component

COMPONENT = "guardrails"
INGRESS_CONTROLLER = "ingress-controller"
INTERNET = "internet"
#: the tenant's backup job that the platform runs in its own namespace (catalog backup.destination: store)
PLATFORM_BACKUP = "platform-backup"

# Container ports (NetworkPolicies match pod ports, not Service ports).
PORT = {
    "identity-http": 8080, "identity-management": 9000, "database": 5432, "database-metrics": 9187, "mail-smtp": 8025,
    "mail-submission": 8587, "mail-imaps": 8993, "mail-metrics": 9900, "eoffice": 8080, "eoffice-metrics": 9102, "prometheus": 9090, "grafana": 3000,
    "dashboards": 8000,
    # Keycloak replicas' JGroups transport and its failure detection (FD_SOCK2: transport port + 50000)
    "identity-cluster": 7800, "identity-cluster-fd": 57800,
}


@dataclass(frozen=True)
class Flow:
    """One allowed connection: from a workload (or the ingress controller) to a port."""

    source: str
    target: str
    port: int
    purpose: str


def workloads_of(ctx: TenantContext) -> dict[str, str]:
    """Every workload the tenant runs, mapped to its component."""
    out = {"identity": "identity", "database": "database", "prometheus": "monitoring",
           dashboards_image(ctx.catalog): "monitoring"}
    if not ctx.catalog.backup.to_store:  # the jobs run in the tenant's namespace
        out.update({"database-backup": "database", "database-restore-check": "database"})
    if ctx.spec.has(Component.MAIL):
        out["mail"] = "mail"
    if ctx.spec.has(Component.EOFFICE):
        out["eoffice"] = "eoffice"
    return out


def flows(ctx: TenantContext) -> list[Flow]:
    """The flows the component graph needs, for the components this tenant has."""
    p = PORT
    table = [
        Flow(INGRESS_CONTROLLER, "identity", p["identity-http"], "users sign in"),
        Flow(INGRESS_CONTROLLER, "grafana", p["grafana"], "operators open dashboards"),
        Flow(INGRESS_CONTROLLER, "dashboards", p["dashboards"], "operators open dashboards"),
        Flow(INGRESS_CONTROLLER, "eoffice", p["eoffice"], "users open e-office"),
        Flow(INGRESS_CONTROLLER, "mail", p["mail-smtp"], "mail arrives from the internet"),
        Flow(INGRESS_CONTROLLER, "mail", p["mail-submission"], "users send mail"),
        Flow(INGRESS_CONTROLLER, "mail", p["mail-imaps"], "users read mail"),
        Flow("identity", "database", p["database"], "identity stores realms"),
        Flow("identity", "identity", p["identity-cluster"], "identity replicas share sessions"),
        Flow("identity", "identity", p["identity-cluster-fd"], "identity replicas watch each other"),
        Flow("identity", "mail", p["mail-submission"], "identity sends account mail"),
        Flow("eoffice", "identity", p["identity-http"], "e-office checks OIDC tokens"),
        Flow("eoffice", "database", p["database"], "e-office stores documents"),
        Flow("eoffice", "mail", p["mail-submission"], "e-office sends notifications"),
        Flow("grafana", "identity", p["identity-http"], "grafana signs users in by OIDC"),
        Flow("grafana", "prometheus", p["prometheus"], "grafana queries metrics"),
        Flow("dashboards", "identity", p["identity-http"], "dashboards sign users in by OIDC"),
        Flow("dashboards", "prometheus", p["prometheus"], "dashboards show Prometheus' consoles"),
        Flow("prometheus", "identity", p["identity-management"], "metrics"),
        Flow("prometheus", "eoffice", p["eoffice-metrics"], "metrics"),
        Flow("prometheus", "grafana", p["grafana"], "metrics"),
        Flow("prometheus", "mail", p["mail-metrics"], "metrics"),
        Flow("prometheus", "database", p["database-metrics"], "metrics"),
        Flow("database-backup", "database", p["database"], "nightly dump"),
        Flow(PLATFORM_BACKUP, "database", p["database"], "nightly dump into the platform's backup store"),
        Flow("mail", INTERNET, 25, "mail delivery to other domains"),
    ]
    relay = ctx.spec.eoffice.mail_relay
    if relay and ctx.spec.has(Component.EOFFICE):
        table.append(Flow("eoffice", INTERNET, int(relay.rsplit(":", 1)[1]), "e-office sends through the pemda's relay"))
    if relay and not ctx.spec.has(Component.MAIL):
        table.append(Flow("identity", INTERNET, int(relay.rsplit(":", 1)[1]), "identity sends account mail through the pemda's relay"))
    if ctx.catalog.images["postgres"].recipe is None:  # the upstream image runs no exporter beside the server
        table = [f for f in table if f.port != p["database-metrics"]]
    present = set(workloads_of(ctx)) | {INGRESS_CONTROLLER, INTERNET}
    if ctx.catalog.backup.to_store:
        present.add(PLATFORM_BACKUP)
    return [f for f in table if f.source in present and f.target in present]


def _peer(ctx: TenantContext, name: str) -> dict[str, Any]:
    if name == INGRESS_CONTROLLER:
        ns = ctx.catalog.platform.ingress_namespace
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
    if name == INTERNET:
        return {"ipBlock": {"cidr": "0.0.0.0/0"}}
    if name == PLATFORM_BACKUP:  # only this tenant's backup pods in the platform's backup namespace
        from spbe_kit.desired.database import STORE_BACKUP_WORKLOAD

        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ctx.catalog.backup.namespace}},
                "podSelector": {"matchLabels": ctx.selector(STORE_BACKUP_WORKLOAD)}}
    return {"podSelector": {"matchLabels": ctx.selector(name)}}


def _rules(ctx: TenantContext, pairs: list[tuple[str, int]], direction: str) -> list[dict[str, Any]]:
    key = "from" if direction == "ingress" else "to"
    return [{key: [_peer(ctx, peer)], "ports": [{"protocol": "TCP", "port": port}]} for peer, port in pairs]


def _policy(ctx: TenantContext, name: str, spec: dict[str, Any]) -> Manifest:
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": ctx.metadata(name, COMPONENT), "spec": spec}
    return Manifest(body, COMPONENT)


def build(ctx: TenantContext) -> list[Manifest]:
    """default-deny, DNS for everyone, then one allow policy per workload with any flow."""
    dns_ns = ctx.catalog.platform.dns_namespace
    manifests = [
        _policy(ctx, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _policy(ctx, "allow-dns", {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": dns_ns}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }],
        }),
    ]
    table = flows(ctx)
    for workload in workloads_of(ctx):
        ingress = sorted({(f.source, f.port) for f in table if f.target == workload})
        egress = sorted({(f.target, f.port) for f in table if f.source == workload})
        if not ingress and not egress:
            continue
        spec: dict[str, Any] = {"podSelector": {"matchLabels": ctx.selector(workload)}, "policyTypes": []}
        if ingress:
            spec["policyTypes"].append("Ingress")
            spec["ingress"] = _rules(ctx, ingress, "ingress")
        if egress:
            spec["policyTypes"].append("Egress")
            spec["egress"] = _rules(ctx, egress, "egress")
        manifests.append(_policy(ctx, f"allow-{workload}", spec))
    return manifests
