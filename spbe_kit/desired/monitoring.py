"""Monitoring: Prometheus scraping the tenant's components, Grafana signing in through identity.

The bootstrap configuration lives here; the spbe_monitoring Ansible role adds scrape jobs,
alert rules and dashboards inside the running components.
"""

from __future__ import annotations

from spbe_kit import yaml_emit

from spbe_kit.catalog.quantity import parse_quantity
from spbe_kit.desired import workload as w
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import Manifest
from spbe_kit.desired.network import PORT, workloads_of
from spbe_kit.desired.rbac import service_account

COMPONENT = "monitoring"

# (workload, port, metrics path) for what each component exposes.
SCRAPE_TARGETS = [
    ("identity", PORT["identity-management"], "/metrics"),
    ("eoffice", PORT["eoffice"], "/metrics"),
    ("grafana", PORT["grafana"], "/metrics"),
    ("prometheus", PORT["prometheus"], "/metrics"),
]


def retention_size(volume: str) -> str:
    """Prometheus' size-based retention: 80% of its volume, leaving room for compaction."""
    return f"{int(parse_quantity(volume) * 8 // 10 // 2**20)}MB"


def _dump(data: object) -> str:
    return yaml_emit.dump(data)


def prometheus_config(ctx: TenantContext) -> str:
    """prometheus.yml: one job per component that exposes metrics."""
    present = workloads_of(ctx)
    jobs = [
        {"job_name": name, "metrics_path": path, "static_configs": [{"targets": [f"{name}:{port}"]}]}
        for name, port, path in SCRAPE_TARGETS if name in present
    ]
    config = {
        "global": {"scrape_interval": "30s", "evaluation_interval": "30s", "external_labels": {"tenant": ctx.spec.tenant_id}},
        "rule_files": ["/etc/prometheus-rules/*.yml", "/prometheus/rules.d/*.yml"],
        "scrape_configs": jobs,
    }
    return _dump(config)


def alert_rules(ctx: TenantContext) -> str:
    """Baseline alert rules every tenant has."""
    rules = {"groups": [{"name": "spbe-baseline", "rules": [
        {"alert": "ComponentDown", "expr": "up == 0", "for": "5m", "labels": {"severity": "critical"},
         "annotations": {"summary": "{{ $labels.job }} of tenant " + ctx.spec.tenant_id + " is down"}},
    ]}]}
    return _dump(rules)


def grafana_datasources() -> str:
    """Grafana provisioning: the tenant's Prometheus as the default datasource."""
    return _dump({"apiVersion": 1, "datasources": [
        {"name": "Prometheus", "type": "prometheus", "access": "proxy", "url": "http://prometheus:9090", "isDefault": True, "editable": False},
    ]})


def _prometheus(ctx: TenantContext) -> list[Manifest]:
    size = ctx.size("prometheus")
    container = w.container(ctx, "prometheus", w.ContainerSpec(
        name="prometheus",
        image=ctx.catalog.image("prometheus"),
        args=[
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=30d",
            f"--storage.tsdb.retention.size={retention_size(size.storage or '0')}",
            f"--web.external-url=https://{ctx.host('monitoring')}/prometheus",
            "--web.route-prefix=/",
        ],
        ports={"http": PORT["prometheus"]},
        # not nested in /etc/prometheus: a read-only ConfigMap volume cannot hold another mount point
        mounts={"config": "/etc/prometheus", "rules": "/etc/prometheus-rules", "data": "/prometheus"},
        read_only_mounts=frozenset({"config", "rules"}),
        liveness=w.http_probe("/-/healthy", "http"),
        readiness=w.http_probe("/-/ready", "http", period=5),
    ))
    pod = w.pod_spec(ctx, "prometheus", [container], {
        "config": w.config_volume("prometheus-config"),
        "rules": w.config_volume("prometheus-rules"),
        "data": w.claim_volume("prometheus-data"),
    })
    return [
        service_account(ctx, COMPONENT, "prometheus"),
        w.config_map(ctx, COMPONENT, "prometheus-config", {"prometheus.yml": prometheus_config(ctx)}),
        w.config_map(ctx, COMPONENT, "prometheus-rules", {"baseline.yml": alert_rules(ctx)}),
        w.volume_claim(ctx, COMPONENT, "prometheus-data", size.storage or ""),
        w.service(ctx, COMPONENT, "prometheus", {"http": (9090, PORT["prometheus"])}),
        w.service(ctx, COMPONENT, "prometheus", {"http": (9090, PORT["prometheus"])}, headless=True),
        w.statefulset(ctx, COMPONENT, "prometheus", pod),
        w.disruption_budget(ctx, COMPONENT, "prometheus"),
    ]


def _grafana(ctx: TenantContext) -> list[Manifest]:
    realm = f"https://{ctx.host('sso')}/realms/{ctx.spec.tenant_id}/protocol/openid-connect"
    container = w.container(ctx, "grafana", w.ContainerSpec(
        name="grafana",
        image=ctx.catalog.image("grafana"),
        ports={"http": PORT["grafana"]},
        env={
            "GF_SERVER_ROOT_URL": f"https://{ctx.host('monitoring')}",
            "GF_SECURITY_ADMIN_USER": "spbe-admin",
            "GF_SECURITY_ADMIN_PASSWORD__FILE": "/run/secrets/admin/password",
            "GF_AUTH_GENERIC_OAUTH_ENABLED": "true",
            "GF_AUTH_GENERIC_OAUTH_NAME": "SPBE SSO",
            "GF_AUTH_GENERIC_OAUTH_CLIENT_ID": "grafana",
            "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE": "/run/secrets/oidc/client-secret",
            "GF_AUTH_GENERIC_OAUTH_SCOPES": "openid profile email",
            "GF_AUTH_GENERIC_OAUTH_AUTH_URL": f"{realm}/auth",
            "GF_AUTH_GENERIC_OAUTH_TOKEN_URL": f"{realm}/token",
            "GF_AUTH_GENERIC_OAUTH_API_URL": f"{realm}/userinfo",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_PATHS_PROVISIONING": "/etc/grafana/provisioning",
        },
        mounts={"data": "/var/lib/grafana", "datasources": "/etc/grafana/provisioning/datasources",
                "admin": "/run/secrets/admin", "oidc": "/run/secrets/oidc", "tmp": "/tmp"},
        read_only_mounts=frozenset({"datasources", "admin", "oidc"}),
        liveness=w.http_probe("/api/health", "http"),
        readiness=w.http_probe("/api/health", "http", period=5),
    ))
    pod = w.pod_spec(ctx, "grafana", [container], {
        "data": w.claim_volume("grafana-data"),
        "datasources": w.config_volume("grafana-datasources"),
        "admin": w.secret_volume("grafana-admin"),
        "oidc": w.secret_volume("grafana-oidc"),
        "tmp": w.empty_dir(),
    })
    return [
        service_account(ctx, COMPONENT, "grafana"),
        w.generated_secret(ctx, COMPONENT, "grafana-admin", ("password",)),
        w.generated_secret(ctx, COMPONENT, "grafana-oidc", ("client-secret",)),
        w.config_map(ctx, COMPONENT, "grafana-datasources", {"datasources.yml": grafana_datasources()}),
        w.volume_claim(ctx, COMPONENT, "grafana-data", ctx.size("grafana").storage or ""),
        w.service(ctx, COMPONENT, "grafana", {"http": (3000, PORT["grafana"])}),
        w.deployment(ctx, COMPONENT, "grafana", pod, recreate=True),
    ]


def build(ctx: TenantContext) -> list[Manifest]:
    """Prometheus and Grafana."""
    return _prometheus(ctx) + _grafana(ctx)
