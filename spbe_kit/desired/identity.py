"""Identity: Keycloak, the tenant's single sign-on, backed by the tenant database."""

from __future__ import annotations

from spbe_kit.desired import mail
from spbe_kit.desired import workload as w
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.eoffice import smtp_endpoint
from spbe_kit.desired.model import Manifest
from spbe_kit.desired.network import PORT
from spbe_kit.desired.rbac import service_account
from spbe_kit.request import Component

COMPONENT = "identity"
VAULT_DIR = "/opt/keycloak/vault"
SMTP_PASSWORD_VAULT_KEY = "smtp-password"  # the realm's SMTP password is ${vault.smtp-password}
ADMIN_USER = "spbe-admin"
REALM_CONFIG_MAP = "identity-realm"
IMPORT_DIR = "/opt/keycloak/data/import"  # where `kc.sh start --import-realm` looks
SECRET_ENV_WAIVER = w.Waiver("CKV_K8S_35", "Keycloak reads its database and bootstrap-admin passwords only from environment variables")
WRITABLE_ROOT_WAIVER = w.Waiver(
    "CKV_K8S_22", "the upstream Keycloak image re-augments its Quarkus build under /opt/keycloak at start; "
    "the SPBE baseline image (catalog 2026.12 on) builds into its data volume and runs read-only")


def build(ctx: TenantContext) -> list[Manifest]:
    """Keycloak Deployment, its Service, account and admin credentials."""
    with_mail = ctx.spec.has(Component.MAIL)
    # The baseline image runs from a read-only root: Keycloak's build step at start writes into the
    # data volume. The upstream image rewrites /opt/keycloak itself, so its root must stay writable.
    read_only = ctx.catalog.images["keycloak"].baseline_build
    with_vault = with_mail
    vault_env = {"KC_VAULT": "file", "KC_VAULT_DIR": VAULT_DIR} if with_vault else {}
    # the realm's mail goes to the tenant's mail server with STARTTLS: Keycloak trusts its certificate
    # besides the Java runtime's own (truststore-paths)
    trusts_mail = with_mail and smtp_endpoint(ctx.spec)[0] == mail.COMPONENT
    trust_env = {"KC_TRUSTSTORE_PATHS": mail.TRUST_FILE} if trusts_mail else {}
    container = w.container(ctx, COMPONENT, w.ContainerSpec(
        name="keycloak",
        image=ctx.catalog.image("keycloak"),
        # the tenant's realm exists from the first start (imported once, skipped when present), so
        # e-office, whose OIDC login reads the realm's discovery document at start, starts before any
        # configuration run; the spbe_identity role configures the rest of it
        args=["start", "--import-realm"] if read_only else ["start"],
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
            # replicas find each other through the tenant database (JGroups JDBC_PING, Keycloak's default
            # since 26.1): no DNS discovery, which needs a headless Service and the JDK's DNS naming
            # module (the baseline's Java runtime has none)
            "KC_CACHE": "ispn",
            "KC_CACHE_STACK": "jdbc-ping",
            **vault_env,
            **trust_env,
        },
        mounts={"tmp": "/tmp", "data": "/opt/keycloak/data", **({"vault": VAULT_DIR} if with_vault else {}),
                **({"realm": IMPORT_DIR} if read_only else {}), **({"mail-tls": mail.TRUST_DIR} if trusts_mail else {})},
        read_only_mounts=frozenset({"vault", "realm", "mail-tls"}),
        startup=w.http_probe("/health/started", "management", period=10, failures=60),
        liveness=w.http_probe("/health/live", "management"),
        readiness=w.http_probe("/health/ready", "management"),
        read_only_root=read_only,
    ))
    volumes = {"tmp": w.empty_dir(), "data": w.empty_dir("1Gi")}  # data: caches and (baseline image) the build
    if with_mail:
        # Keycloak's file vault: <realm>_<key>, here the noreply mailbox's password for the realm's SMTP login
        vault = w.secret_volume(mail.ACCOUNTS_SECRET)
        vault["secret"]["items"] = [{"key": mail.NOREPLY_KEY, "path": f"{ctx.spec.tenant_id}_{SMTP_PASSWORD_VAULT_KEY}"}]
        volumes["vault"] = vault
    if trusts_mail:
        volumes["mail-tls"] = mail.trust_volume()
    realm = []
    if read_only:
        volumes["realm"] = w.config_volume(REALM_CONFIG_MAP)
        realm = [w.config_map(ctx, COMPONENT, REALM_CONFIG_MAP, {f"{ctx.spec.tenant_id}.json": realm_import(ctx)})]
    pod = w.pod_spec(ctx, COMPONENT, [container], volumes)
    return [
        *realm,
        service_account(ctx, COMPONENT, COMPONENT),
        w.generated_secret(ctx, COMPONENT, "identity-admin", ("password",)),
        w.service(ctx, COMPONENT, COMPONENT, {"http": (8080, PORT["identity-http"]), "management": (9000, PORT["identity-management"])}),
        w.deployment(ctx, COMPONENT, COMPONENT, pod,
                     [SECRET_ENV_WAIVER] if read_only else [SECRET_ENV_WAIVER, WRITABLE_ROOT_WAIVER]),
    ]


def realm_import(ctx: TenantContext) -> str:
    """The realm as Keycloak imports it on the first start: just the realm, enabled, TLS outside the cluster."""
    import json

    return json.dumps({"realm": ctx.spec.tenant_id, "enabled": True, "sslRequired": "external",
                       "displayName": f"Pemerintah {ctx.spec.pemda.name}"}, indent=2, sort_keys=True) + "\n"
