"""Identity: Keycloak, the tenant's single sign-on, backed by the tenant database."""

from __future__ import annotations

from spbe_kit.desired import workload as w
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import Manifest
from spbe_kit.desired.network import PORT
from spbe_kit.desired.rbac import service_account

COMPONENT = "identity"
ADMIN_USER = "spbe-admin"
WAIVERS = [
    w.Waiver("CKV_K8S_35", "Keycloak reads its database and bootstrap-admin passwords only from environment variables"),
    w.Waiver("CKV_K8S_22", "the upstream Keycloak image re-augments its Quarkus build under /opt/keycloak at start; an SPBE-optimised image removes this waiver"),
]


def build(ctx: TenantContext) -> list[Manifest]:
    """Keycloak Deployment, its Service, account and admin credentials."""
    container = w.container(ctx, COMPONENT, w.ContainerSpec(
        name="keycloak",
        image=ctx.catalog.image("keycloak"),
        args=["start"],
        ports={"http": PORT["identity-http"], "management": PORT["identity-management"]},
        env={
            "KC_DB": "postgres",
            "KC_DB_URL": "jdbc:postgresql://database:5432/identity?sslmode=require",
            "KC_DB_USERNAME": "identity",
            "KC_DB_PASSWORD": w.secret_env("database-identity", "password"),
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": w.secret_env("identity-admin", "password"),
            "KC_HOSTNAME": f"https://{ctx.host('sso')}",
            "KC_HOSTNAME_BACKCHANNEL_DYNAMIC": "true",
            "KC_HTTP_ENABLED": "true",
            "KC_PROXY_HEADERS": "xforwarded",
            "KC_HEALTH_ENABLED": "true",
            "KC_METRICS_ENABLED": "true",
            "KC_CACHE": "ispn",
            "KC_CACHE_STACK": "kubernetes",
        },
        mounts={"tmp": "/tmp", "data": "/opt/keycloak/data"},
        startup=w.http_probe("/health/started", "management", period=10, failures=60),
        liveness=w.http_probe("/health/live", "management"),
        readiness=w.http_probe("/health/ready", "management"),
        read_only_root=False,
    ))
    pod = w.pod_spec(ctx, COMPONENT, [container], {"tmp": w.empty_dir(), "data": w.empty_dir("1Gi")})
    return [
        service_account(ctx, COMPONENT, COMPONENT),
        w.generated_secret(ctx, COMPONENT, "identity-admin", ("password",)),
        w.service(ctx, COMPONENT, COMPONENT, {"http": (8080, PORT["identity-http"]), "management": (9000, PORT["identity-management"])}),
        w.deployment(ctx, COMPONENT, COMPONENT, pod, WAIVERS),
    ]
