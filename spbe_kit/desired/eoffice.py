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


def build(ctx: TenantContext) -> list[Manifest]:
    """E-office Deployment, its Service, account and OIDC/session secrets."""
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
