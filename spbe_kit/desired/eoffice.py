"""E-office: the correspondence web app, wired to identity (OIDC), the database and mail."""

from __future__ import annotations

from spbe_kit.desired import mail
from spbe_kit.desired import workload as w
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import Manifest
from spbe_kit.desired.network import PORT
from spbe_kit.desired.rbac import service_account
from spbe_kit.request import Component, TenantSpec

COMPONENT = "eoffice"


def noreply_address(spec: TenantSpec) -> str:
    """The service mailbox identity and e-office send as, on the tenant's own mail server."""
    return f"noreply@{spec.domain}"


def smtp_endpoint(spec: TenantSpec) -> tuple[str, str]:
    """Where e-office (and identity) send mail: the tenant's mail service, or the pemda's own relay."""
    relay = spec.eoffice.mail_relay
    if relay:
        host, port = relay.rsplit(":", 1)
        return host, port
    return "mail", "587"


#: Mayan's OpenID Connect login backend (mozilla-django-oidc underneath)
OIDC_BACKEND = "mayan.apps.authentication_oidc.authentication_backends.AuthenticationBackendOIDC"
MEDIA_ROOT = "/var/lib/mayan"
#: the administrator Mayan creates on its first start (MAYAN_AUTOADMIN_*); the spbe_eoffice role acts as it
ADMIN_USER = "spbe-admin"
SECRET_ENV_WAIVER = w.Waiver(
    "CKV_K8S_35", "Mayan EDMS reads its database, OIDC client and SMTP passwords only from its MAYAN_* environment")


def _mayan(ctx: TenantContext) -> list[Manifest]:
    """Mayan EDMS (the baseline e-office image), configured the way Mayan documents it: MAYAN_* variables.

    Passwords come from Secrets into helper variables that Kubernetes substitutes ($(VAR)) into
    Mayan's YAML settings; nothing secret is written into the Deployment itself.
    """
    smtp_host, smtp_port = smtp_endpoint(ctx.spec)
    with_mail = ctx.spec.has(Component.MAIL)
    realm = ctx.spec.tenant_id
    host = ctx.host("eoffice")
    env: dict[str, object] = {
        "SPBE_DB_PASSWORD": w.secret_env("database-eoffice", "password"),
        "SPBE_OIDC_CLIENT_SECRET": w.secret_env("eoffice-oidc", "client-secret"),
        "MAYAN_DATABASES": (
            "{default: {ENGINE: django.db.backends.postgresql, NAME: eoffice, USER: eoffice, "
            "PASSWORD: '$(SPBE_DB_PASSWORD)', HOST: database, PORT: '5432', OPTIONS: {sslmode: require}}}"),
        "MAYAN_ALLOWED_HOSTS": f"['{host}', 'eoffice']",
        # behind the ingress (TLS ends there): links and the OIDC redirect are https, forms trust the host
        "MAYAN_SECURE_PROXY_SSL_HEADER": "['HTTP_X_FORWARDED_PROTO', 'https']",
        "MAYAN_CSRF_TRUSTED_ORIGINS": f"['https://{host}']",
        "MAYAN_MEDIA_ROOT": MEDIA_ROOT,
        "MAYAN_AUTHENTICATION_BACKEND": OIDC_BACKEND,
        # discovery through the in-cluster Service: Keycloak answers with the browser's endpoints on
        # the public sso host and the back-channel ones (token, keys, userinfo) on identity:8080
        "MAYAN_AUTHENTICATION_BACKEND_ARGUMENTS": (
            f"{{oidc_discovery_url: 'http://identity:8080/realms/{realm}/.well-known/openid-configuration', "
            "oidc_rp_client_id: eoffice, oidc_rp_client_secret: '$(SPBE_OIDC_CLIENT_SECRET)', "
            "oidc_rp_sign_algo: RS256}"),
        "MAYAN_EMAIL_HOST": smtp_host,
        "MAYAN_EMAIL_PORT": smtp_port,
        "MAYAN_EMAIL_USE_TLS": "true",
        "MAYAN_DEFAULT_FROM_EMAIL": noreply_address(ctx.spec),
        # the administrator the spbe_eoffice role acts as (with an API token made in the pod); its
        # random password is never shown: logins go through OIDC, and the image forgets Mayan's copy
        "MAYAN_AUTOADMIN_USERNAME": ADMIN_USER,
        "MAYAN_AUTOADMIN_EMAIL": f"postmaster@{ctx.spec.domain}",
    }
    if with_mail:  # the tenant's mail accepts only logged-in senders on submission
        env = {"SPBE_SMTP_PASSWORD": w.secret_env(mail.ACCOUNTS_SECRET, mail.NOREPLY_KEY), **env,
               "MAYAN_EMAIL_HOST_USER": noreply_address(ctx.spec), "MAYAN_EMAIL_HOST_PASSWORD": "$(SPBE_SMTP_PASSWORD)"}
    volumes: dict[str, dict] = {"data": w.claim_volume("eoffice-data"), "tmp": w.empty_dir("2Gi")}
    mounts = {"data": MEDIA_ROOT, "tmp": "/tmp"}
    if with_mail and smtp_host == mail.COMPONENT:
        # STARTTLS to the tenant's mail server verifies its certificate (Django checks it against the
        # default trust store): OpenSSL reads this file besides the system's certificate directory
        volumes["mail-tls"] = mail.trust_volume()
        mounts["mail-tls"] = mail.TRUST_DIR
        env["SSL_CERT_FILE"] = mail.TRUST_FILE
    probe_host = [{"name": "Host", "value": host}]  # Django answers only its ALLOWED_HOSTS
    login = w.http_probe("/authentication/login/", "http")
    login["httpGet"]["httpHeaders"] = probe_host
    startup = w.http_probe("/authentication/login/", "http", period=10, failures=60)
    startup["httpGet"]["httpHeaders"] = probe_host
    container = w.container(ctx, COMPONENT, w.ContainerSpec(
        name="eoffice",
        image=ctx.catalog.image("eoffice"),
        ports={"http": PORT["eoffice"], "metrics": PORT["eoffice-metrics"]},
        env=env,
        mounts=mounts,
        read_only_mounts=frozenset({"mail-tls"}),
        startup=startup,
        liveness=login,
        readiness={**login, "periodSeconds": 5},
    ))
    pod = w.pod_spec(ctx, COMPONENT, [container], volumes)
    return [
        service_account(ctx, COMPONENT, COMPONENT),
        w.generated_secret(ctx, COMPONENT, "eoffice-oidc", ("client-secret",)),
        w.volume_claim(ctx, COMPONENT, "eoffice-data", ctx.size(COMPONENT).storage or ""),
        w.service(ctx, COMPONENT, COMPONENT, {"http": (8080, PORT["eoffice"]),
                                              "metrics": (PORT["eoffice-metrics"], PORT["eoffice-metrics"])}),
        w.deployment(ctx, COMPONENT, COMPONENT, pod, [SECRET_ENV_WAIVER], recreate=True),
    ]


def build(ctx: TenantContext) -> list[Manifest]:
    """E-office (Mayan EDMS): Deployment, Service, account, documents volume, OIDC and admin secrets.

    The same app contract for every catalog version; only the image differs (catalog 2026.11
    holds a placeholder for it, which a cluster with real nodes refuses)."""
    return _mayan(ctx)
