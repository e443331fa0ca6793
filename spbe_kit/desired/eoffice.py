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


def _noreply_volume() -> dict:
    volume = w.secret_volume(mail.ACCOUNTS_SECRET)
    volume["secret"]["items"] = [{"key": mail.NOREPLY_KEY, "path": mail.NOREPLY_KEY}]
    return volume


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
    }
    if with_mail:  # the tenant's mail accepts only logged-in senders on submission
        env = {"SPBE_SMTP_PASSWORD": w.secret_env(mail.ACCOUNTS_SECRET, mail.NOREPLY_KEY), **env,
               "MAYAN_EMAIL_HOST_USER": noreply_address(ctx.spec), "MAYAN_EMAIL_HOST_PASSWORD": "$(SPBE_SMTP_PASSWORD)"}
    probe_host = [{"name": "Host", "value": host}]  # Django answers only its ALLOWED_HOSTS
    login = w.http_probe("/authentication/login/", "http")
    login["httpGet"]["httpHeaders"] = probe_host
    startup = w.http_probe("/authentication/login/", "http", period=10, failures=60)
    startup["httpGet"]["httpHeaders"] = probe_host
    container = w.container(ctx, COMPONENT, w.ContainerSpec(
        name="eoffice",
        image=ctx.catalog.image("eoffice"),
        ports={"http": PORT["eoffice"]},
        env=env,
        mounts={"data": MEDIA_ROOT, "tmp": "/tmp"},
        startup=startup,
        liveness=login,
        readiness={**login, "periodSeconds": 5},
    ))
    pod = w.pod_spec(ctx, COMPONENT, [container], {
        "data": w.claim_volume("eoffice-data"),
        "tmp": w.empty_dir("2Gi"),
    })
    return [
        service_account(ctx, COMPONENT, COMPONENT),
        w.generated_secret(ctx, COMPONENT, "eoffice-oidc", ("client-secret",)),
        w.volume_claim(ctx, COMPONENT, "eoffice-data", ctx.size(COMPONENT).storage or ""),
        w.service(ctx, COMPONENT, COMPONENT, {"http": (8080, PORT["eoffice"])}),
        w.deployment(ctx, COMPONENT, COMPONENT, pod, [SECRET_ENV_WAIVER], recreate=True),
    ]


def build(ctx: TenantContext) -> list[Manifest]:
    """E-office Deployment, its Service, account and OIDC/session secrets."""
    if ctx.catalog.images["eoffice"].baseline_build:
        return _mayan(ctx)
    smtp_host, smtp_port = smtp_endpoint(ctx.spec)
    with_mail = ctx.spec.has(Component.MAIL)
    # the tenant's mail accepts only logged-in senders on submission: e-office uses the noreply mailbox
    smtp_login = {"EOFFICE_SMTP_USER": noreply_address(ctx.spec),
                  "EOFFICE_SMTP_PASSWORD_FILE": f"/run/secrets/mail/{mail.NOREPLY_KEY}"} if with_mail else {}
    container = w.container(ctx, COMPONENT, w.ContainerSpec(
        name="eoffice",
        image=ctx.catalog.image("eoffice"),
        ports={"http": PORT["eoffice"]},
        env={
            "EOFFICE_BASE_URL": f"https://{ctx.host('eoffice')}",
            "EOFFICE_OIDC_ISSUER": f"https://{ctx.host('sso')}/realms/{ctx.spec.tenant_id}",
            "EOFFICE_OIDC_INTERNAL_URL": "http://identity:8080",
            "EOFFICE_OIDC_CLIENT_ID": "eoffice",
            "EOFFICE_OIDC_CLIENT_SECRET_FILE": "/run/secrets/oidc/client-secret",
            "EOFFICE_SESSION_KEY_FILE": "/run/secrets/session/session-key",
            "EOFFICE_DB_HOST": "database",
            "EOFFICE_DB_NAME": "eoffice",
            "EOFFICE_DB_USER": "eoffice",
            "EOFFICE_DB_PASSWORD_FILE": "/run/secrets/database/password",
            "EOFFICE_DB_SSLMODE": "require",
            "EOFFICE_SMTP_HOST": smtp_host,
            "EOFFICE_SMTP_PORT": smtp_port,
            "EOFFICE_SMTP_STARTTLS": "true",
            **smtp_login,
        },
        mounts={"oidc": "/run/secrets/oidc", "session": "/run/secrets/session", "database": "/run/secrets/database",
                "tmp": "/tmp", **({"mail": "/run/secrets/mail"} if with_mail else {})},
        read_only_mounts=frozenset({"oidc", "session", "database", "mail"}),
        liveness=w.http_probe("/healthz", "http"),
        readiness=w.http_probe("/readyz", "http", period=5),
    ))
    pod = w.pod_spec(ctx, COMPONENT, [container], {
        "oidc": w.secret_volume("eoffice-oidc"),
        "session": w.secret_volume("eoffice-session"),
        "database": w.secret_volume("database-eoffice"),
        "tmp": w.empty_dir(),
        **({"mail": _noreply_volume()} if with_mail else {}),
    })
    return [
        service_account(ctx, COMPONENT, COMPONENT),
        w.generated_secret(ctx, COMPONENT, "eoffice-oidc", ("client-secret",)),
        w.generated_secret(ctx, COMPONENT, "eoffice-session", ("session-key",)),
        w.service(ctx, COMPONENT, COMPONENT, {"http": (8080, PORT["eoffice"])}),
        w.deployment(ctx, COMPONENT, COMPONENT, pod),
    ]
