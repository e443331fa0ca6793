"""Mail: the tenant's SMTP/IMAP server (rootless Postfix + Dovecot) with its mail store."""

from __future__ import annotations

from spbe_kit.desired import workload as w
from spbe_kit.desired.context import TenantContext
from spbe_kit.desired.model import Manifest
from spbe_kit.desired.network import PORT
from spbe_kit.desired.rbac import service_account
from spbe_kit.request.spec import TenantSpec

COMPONENT = "mail"
ACCOUNTS_SECRET = "mail-accounts"  # passwords of the service mailboxes the roles create
NOREPLY_KEY = "noreply-password"   # identity's and e-office's login on submission
POSTMASTER_KEY = "postmaster-password"  # the postmaster mailbox (postmaster@ and abuse@ land there)
ACCOUNTS_DIR = "/run/secrets/mail-accounts"  # one password file per service mailbox, hashed by the image at start
MAILBOXES = {"noreply": NOREPLY_KEY, "postmaster": POSTMASTER_KEY}
#: where the baseline mail image (spbe-mail) writes what it generates at start, for `spbe verify`
IMAGE_RUN_DIR = "/run/spbe-mail"
IMAGE_FILES = {
    "postfix_config_dir": f"{IMAGE_RUN_DIR}/postfix",
    "dovecot_config_dir": f"{IMAGE_RUN_DIR}/dovecot",
    "users_file": f"{IMAGE_RUN_DIR}/users",
    "tls_key_file": f"{IMAGE_RUN_DIR}/tls/tls.key",
    "dkim_key_file": "/var/mail/.spbe/dkim/spbe2026.private",
}


def postmaster_recipients(spec: TenantSpec) -> list[str]:
    """postmaster@ and abuse@ land in the postmaster mailbox, with a copy to every contact outside the domain
    (contacts inside it may have no mailbox on this server yet)."""
    outside = sorted({c.email.lower() for c in spec.contacts if not c.email.lower().endswith("@" + spec.domain)})
    return [f"postmaster@{spec.domain}", *outside]


def build(ctx: TenantContext) -> list[Manifest]:
    """Mail StatefulSet, its volume, Services and disruption budget."""
    container = w.container(ctx, COMPONENT, w.ContainerSpec(
        name="mail",
        image=ctx.catalog.image("mail"),
        ports={"smtp": PORT["mail-smtp"], "submission": PORT["mail-submission"], "imaps": PORT["mail-imaps"]},
        env={"MAIL_DOMAIN": ctx.spec.domain, "MAIL_HOSTNAME": ctx.host("mail"),
             # only when there are copies: the API server stores an empty value as no value (drift otherwise)
             **({"MAIL_POSTMASTER_COPIES": ",".join(copies)} if (copies := postmaster_recipients(ctx.spec)[1:]) else {})},
        mounts={"data": "/var/mail", "spool": "/var/spool/postfix", "run": "/run", "tmp": "/tmp",
                "accounts": ACCOUNTS_DIR},
        read_only_mounts=frozenset({"accounts"}),
        liveness=w.tcp_probe("smtp"),
        readiness=w.tcp_probe("submission", period=5),
    ))
    pod = w.pod_spec(ctx, COMPONENT, [container], {
        "data": w.claim_volume("mail-data"),
        "spool": w.empty_dir("1Gi"),
        "run": w.empty_dir("16Mi"),
        "tmp": w.empty_dir(),
        # the service mailboxes exist from the first start: the image hashes these passwords
        "accounts": {"secret": {"secretName": ACCOUNTS_SECRET, "defaultMode": 0o440,
                                "items": [{"key": key, "path": box} for box, key in MAILBOXES.items()]}},
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
