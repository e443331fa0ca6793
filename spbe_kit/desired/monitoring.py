"""Monitoring: Prometheus scraping the tenant's components, and its dashboards behind a login through
identity: Grafana (catalog up to 2026.11), or from 2026.12 the baseline's `dashboards` image showing
Prometheus' own console templates (rendered here) behind an OpenID Connect login.

The bootstrap configuration lives here; the spbe_monitoring Ansible role adds scrape jobs,
alert rules and dashboards inside the running components.
"""

from __future__ import annotations

from spbe_kit import yaml_emit

from spbe_kit.catalog.quantity import parse_quantity
from spbe_kit.desired import workload as w
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.database import exports_metrics
from spbe_kit.desired.model import Manifest
from spbe_kit.desired.network import PORT, workloads_of
from spbe_kit.desired.rbac import service_account

COMPONENT = "monitoring"
#: mod_auth_openidc's redirect URI path on the dashboards host (the identity role registers it)
DASHBOARDS_OIDC_CALLBACK = "/oidc/callback"

# (workload, port, metrics path) for what each component exposes.
SCRAPE_TARGETS = [
    ("identity", PORT["identity-management"], "/metrics"),
    ("eoffice", PORT["eoffice-metrics"], "/metrics"),  # the image's gunicorn counts Mayan's requests
    ("database", PORT["database-metrics"], "/metrics"),  # the exporter beside PostgreSQL (baseline image)
    ("mail", PORT["mail-metrics"], "/metrics"),  # Dovecot's statistics (logins, deliveries)
    ("grafana", PORT["grafana"], "/metrics"),
    ("prometheus", PORT["prometheus"], "/metrics"),
]


#: the tenant's alert rules: this ConfigMap, mounted read-only into Prometheus, holds them in this file
RULES_CONFIG_MAP = "prometheus-rules"
RULES_FILE = "baseline.yml"


def retention_size(volume: str) -> str:
    """Prometheus' size-based retention: 80% of its volume, leaving room for compaction."""
    return f"{int(parse_quantity(volume) * 8 // 10 // 2**20)}MB"


def _dump(data: object) -> str:
    return yaml_emit.dump(data)


def _scrape_host(workload: str) -> str:
    """Prometheus scrapes itself on its own loopback (no network flow, no policy to allow it); the
    others through their Service."""
    return "localhost" if workload == "prometheus" else workload


def prometheus_config(ctx: TenantContext) -> str:
    """prometheus.yml: one job per component that exposes metrics.

    Every target carries the tenant label (as the spbe_monitoring role writes it): external labels
    only reach series that leave Prometheus, and the tenant's own queries and alerts need it too."""
    present = workloads_of(ctx)
    jobs = [
        {"job_name": name, "metrics_path": path,
         "static_configs": [{"targets": [f"{_scrape_host(name)}:{port}"], "labels": {"tenant": ctx.spec.tenant_id}}]}
        for name, port, path in SCRAPE_TARGETS if name in present and (name != "database" or exports_metrics(ctx))
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


CONSOLES_DIR = "/etc/prometheus-consoles"
#: the console every operator lands on (the dashboards image redirects / to it)
TENANT_CONSOLE = "spbe-tenant.html"

_CONSOLE_LIBRARY = """{{/* SPBE console library: the page frame of the tenant's consoles */}}
{{ define "spbe_head" }}<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<title>{{ . }}</title>
<link type="text/css" rel="stylesheet" href="{{ pathPrefix }}/classic/static/rickshaw/rickshaw.min.css">
<link type="text/css" rel="stylesheet" href="{{ pathPrefix }}/classic/static/bootstrap4/css/bootstrap.min.css">
<link type="text/css" rel="stylesheet" href="{{ pathPrefix }}/classic/static/css/prom_console.css">
<script src="{{ pathPrefix }}/classic/static/d3/d3.min.js"></script>
<script src="{{ pathPrefix }}/classic/static/vendor/rickshaw/vendor/d3.layout.min.js"></script>
<script src="{{ pathPrefix }}/classic/static/rickshaw/rickshaw.min.js"></script>
<script src="{{ pathPrefix }}/classic/static/jquery/jquery.min.js"></script>
<script>var PATH_PREFIX = "{{ pathPrefix }}";</script>
<script src="{{ pathPrefix }}/classic/static/js/prom_console.js"></script>
</head>
<body><div class="container-fluid">
{{ end }}
{{ define "spbe_tail" }}</div></body></html>{{ end }}
"""

_TENANT_CONSOLE = """{{ template "spbe_head" "Pemantauan TENANT" }}
<h1>Pemantauan tenant TENANT</h1>
<h2>Komponen</h2>
<table class="table table-sm" id="components">
<tr><th>Komponen</th><th>Status</th><th>Durasi scrape</th></tr>
{{ range query "up" | sortByLabel "job" }}<tr><td>{{ .Labels.job }}</td><td>{{ if eq .Value 1.0 }}berjalan{{ else }}<b>mati</b>{{ end }}</td><td>{{ with printf "scrape_duration_seconds{job='%s'}" .Labels.job | query }}{{ . | first | value | humanizeDuration }}{{ end }}</td></tr>
{{ end }}</table>
<h2>Peringatan aktif</h2>
{{ with query "ALERTS{alertstate='firing'}" }}<ul id="alerts">{{ range . }}<li>{{ .Labels.alertname }} ({{ .Labels.job }})</li>{{ end }}</ul>{{ else }}<p id="alerts">Tidak ada.</p>{{ end }}
<h2>Ketersediaan, 6 jam terakhir</h2>
<div id="up-graph"></div>
<script>
new PromConsole.Graph({node: document.querySelector("#up-graph"), expr: "up", name: "[[job]]", min: 0, max: 1,
  yAxisFormatter: PromConsole.NumberFormatter.humanizeNoSmallPrefix,
  yHoverFormatter: PromConsole.NumberFormatter.humanizeNoSmallPrefix, yTitle: "up", duration: "6h"})
</script>
{{ template "spbe_tail" }}
"""


def consoles(ctx: TenantContext) -> dict[str, str]:
    """Prometheus console templates (Go templates Prometheus renders itself): the tenant's dashboards."""
    return {"spbe.lib": _CONSOLE_LIBRARY, TENANT_CONSOLE: _TENANT_CONSOLE.replace("TENANT", ctx.spec.tenant_id)}


def has_dashboards_image(ctx: TenantContext) -> bool:
    return "dashboards" in ctx.catalog.images


def grafana_datasources() -> str:
    """Grafana provisioning: the tenant's Prometheus as the default datasource."""
    return _dump({"apiVersion": 1, "datasources": [
        {"name": "Prometheus", "type": "prometheus", "access": "proxy", "url": "http://prometheus:9090", "isDefault": True, "editable": False},
    ]})


def _prometheus(ctx: TenantContext) -> list[Manifest]:
    size = ctx.size("prometheus")
    with_consoles = has_dashboards_image(ctx)
    console_args = [f"--web.console.templates={CONSOLES_DIR}", f"--web.console.libraries={CONSOLES_DIR}"]
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
            *(console_args if with_consoles else []),
        ],
        ports={"http": PORT["prometheus"]},
        # not nested in /etc/prometheus: a read-only ConfigMap volume cannot hold another mount point
        mounts={"config": "/etc/prometheus", "rules": "/etc/prometheus-rules", "data": "/prometheus",
                **({"consoles": CONSOLES_DIR} if with_consoles else {})},
        read_only_mounts=frozenset({"config", "rules", "consoles"}),
        liveness=w.http_probe("/-/healthy", "http"),
        readiness=w.http_probe("/-/ready", "http", period=5),
    ))
    pod = w.pod_spec(ctx, "prometheus", [container], {
        "config": w.config_volume("prometheus-config"),
        "rules": w.config_volume(RULES_CONFIG_MAP),
        "data": w.claim_volume("prometheus-data"),
        **({"consoles": w.config_volume("prometheus-consoles")} if with_consoles else {}),
    })
    console_maps = [w.config_map(ctx, COMPONENT, "prometheus-consoles", consoles(ctx))] if with_consoles else []
    return [
        service_account(ctx, COMPONENT, "prometheus"),
        w.config_map(ctx, COMPONENT, "prometheus-config", {"prometheus.yml": prometheus_config(ctx)}),
        w.config_map(ctx, COMPONENT, RULES_CONFIG_MAP, {RULES_FILE: alert_rules(ctx)}),
        *console_maps,
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


SECRET_ENV_WAIVER = w.Waiver(
    "CKV_K8S_35", "Apache httpd reads mod_auth_openidc's client secret and session key only from its "
    "configuration, which takes them from the environment")


def _dashboards(ctx: TenantContext) -> list[Manifest]:
    """The baseline's dashboards image: Prometheus' consoles behind an OIDC login through the tenant's realm."""
    host = ctx.host("monitoring")
    container = w.container(ctx, "dashboards", w.ContainerSpec(
        name="dashboards",
        image=ctx.catalog.image("dashboards"),
        ports={"http": PORT["dashboards"]},
        env={
            "SPBE_PUBLIC_HOST": host,
            "SPBE_LISTEN_PORT": str(PORT["dashboards"]),
            # discovery through the in-cluster Service: the browser gets the public sso endpoints, the
            # back channel (token, keys) stays on identity:8080
            "SPBE_OIDC_DISCOVERY_URL": f"http://identity:8080/realms/{ctx.spec.tenant_id}/.well-known/openid-configuration",
            "SPBE_OIDC_CLIENT_ID": "dashboards",
            "SPBE_OIDC_CLIENT_SECRET": w.secret_env("dashboards-oidc", "client-secret"),
            "SPBE_OIDC_REDIRECT_URI": f"https://{host}{DASHBOARDS_OIDC_CALLBACK}",
            "SPBE_SESSION_KEY": w.secret_env("dashboards-session", "key"),
            "SPBE_UPSTREAM": f"http://prometheus:{PORT['prometheus']}",
        },
        mounts={"tmp": "/tmp"},
        liveness=w.http_probe("/healthz", "http"),
        readiness=w.http_probe("/healthz", "http", period=5),
    ))
    pod = w.pod_spec(ctx, "dashboards", [container], {"tmp": w.empty_dir("64Mi")})
    return [
        service_account(ctx, COMPONENT, "dashboards"),
        w.generated_secret(ctx, COMPONENT, "dashboards-oidc", ("client-secret",)),
        w.generated_secret(ctx, COMPONENT, "dashboards-session", ("key",)),
        w.service(ctx, COMPONENT, "dashboards", {"http": (PORT["dashboards"], PORT["dashboards"])}),
        w.deployment(ctx, COMPONENT, "dashboards", pod, [SECRET_ENV_WAIVER]),
    ]


def build(ctx: TenantContext) -> list[Manifest]:
    """Prometheus and the dashboards (Grafana up to catalog 2026.11)."""
    return _prometheus(ctx) + (_dashboards(ctx) if has_dashboards_image(ctx) else _grafana(ctx))
