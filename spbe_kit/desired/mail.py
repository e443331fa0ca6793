"""Mail: the tenant's SMTP/IMAP server (rootless Postfix + Dovecot) with its mail store."""

from __future__ import annotations

from spbe_kit.desired import workload as w
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import Manifest
from spbe_kit.desired.network import PORT
from spbe_kit.desired.rbac import service_account

COMPONENT = "mail"
ACCOUNTS_SECRET = "mail-accounts"  # passwords of the service mailboxes the roles create
NOREPLY_KEY = "noreply-password"   # identity's and e-office's login on submission
POSTMASTER_KEY = "postmaster-password"  # the postmaster mailbox (postmaster@ and abuse@ land there)


def build(ctx: TenantContext) -> list[Manifest]:
    """Mail StatefulSet, its volume, Services and disruption budget."""
    container = w.container(ctx, COMPONENT, w.ContainerSpec(
        name="mail",
        image=ctx.catalog.image("mail"),
        ports={"smtp": PORT["mail-smtp"], "submission": PORT["mail-submission"], "imaps": PORT["mail-imaps"]},
        env={"MAIL_DOMAIN": ctx.spec.domain, "MAIL_HOSTNAME": ctx.host("mail")},
        mounts={"data": "/var/mail", "spool": "/var/spool/postfix", "run": "/run", "tmp": "/tmp"},
        liveness=w.tcp_probe("smtp"),
        readiness=w.tcp_probe("submission", period=5),
    ))
    pod = w.pod_spec(ctx, COMPONENT, [container], {
        "data": w.claim_volume("mail-data"),
        "spool": w.empty_dir("1Gi"),
        "run": w.empty_dir("16Mi"),
        "tmp": w.empty_dir(),
    })
    ports = {"smtp": (25, PORT["mail-smtp"]), "submission": (587, PORT["mail-submission"]), "imaps": (993, PORT["mail-imaps"])}
    return [
        service_account(ctx, COMPONENT, COMPONENT),
        w.generated_secret(ctx, COMPONENT, ACCOUNTS_SECRET, (NOREPLY_KEY, POSTMASTER_KEY)),
        w.generated_secret(ctx, COMPONENT, "webmail-oidc", ("client-secret",)),
        w.volume_claim(ctx, COMPONENT, "mail-data", ctx.size(COMPONENT).storage or ""),
        w.service(ctx, COMPONENT, COMPONENT, ports),
        w.service(ctx, COMPONENT, COMPONENT, ports, headless=True),
        w.statefulset(ctx, COMPONENT, COMPONENT, pod),
        w.disruption_budget(ctx, COMPONENT, COMPONENT),
    ]
