"""The configuration plan: which Ansible role runs against which component, with which variables.

A pure function of the tenant's request, its desired state, the credentials the stack generated, and
how the controller reaches the components. Nothing here is written down twice: hosts come from the
desired state, the SMTP vault key from the identity Deployment, credentials from the generated Secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spbe_kit.desired import identity
from spbe_kit.catalog.load import dashboards_image, load_catalog
from spbe_kit.catalog.model import Catalog
from spbe_kit.desired.database import BACKUP_ROLE, app_databases, backup_secret_name
from spbe_kit.desired.eoffice import ADMIN_USER as EOFFICE_ADMIN, noreply_address, smtp_endpoint
from spbe_kit.desired.monitoring import DASHBOARDS_OIDC_CALLBACK
from spbe_kit.errors import SpbeError
from spbe_kit.request import Component, TenantSpec


class MissingCredential(SpbeError):
    """A generated Secret the configuration needs is not in the cluster."""


@dataclass(frozen=True)
class Reach:
    """How the controller reaches the components: URLs of port-forwards, and pods for the kubectl connection."""

    identity_url: str
    database_host: str
    database_port: int
    pods: dict[str, tuple[str, str]] = field(default_factory=dict)  # component -> (pod, container)
    eoffice_url: str = ""  # Mayan EDMS through a port-forward (tenants with e-office)


@dataclass(frozen=True)
class RoleRun:
    component: str
    role: str
    host: str  # "localhost" (the controller, through a port-forward) or the pod's name
    connection: dict[str, str]
    variables: dict = field(repr=False)  # holds credentials: never printed


class Credentials:
    """The values of the tenant's generated Secrets (name -> key -> value); the repr shows only names."""

    def __init__(self, values: dict[str, dict[str, str]]) -> None:
        self._values = values

    def get(self, secret: str, key: str) -> str:
        try:
            return self._values[secret][key]
        except KeyError:
            raise MissingCredential(f"the generated Secret {secret} (key {key}) is missing from the tenant's namespace",
                                    hint="run `spbe tenant up` again so the stack recreates it") from None

    def __repr__(self) -> str:
        return f"Credentials({sorted(self._values)})"


#: Mayan EDMS's OpenID Connect callback (mozilla-django-oidc under Mayan's authentication_oidc app)
MAYAN_OIDC_CALLBACK = "/oidc/callback/"


def _dashboards_client(dashboards: str) -> dict:
    if dashboards == "grafana":  # catalog up to 2026.11
        return {"client_id": "grafana", "name": "Grafana", "host": "monitoring", "redirect_paths": ["/login/generic_oauth"]}
    return {"client_id": "dashboards", "name": "Dashboards", "host": "monitoring",
            "redirect_paths": [DASHBOARDS_OIDC_CALLBACK]}


def configuration_plan(spec: TenantSpec, credentials: Credentials, reach: Reach, kubeconfig: str,
                       context: str | None = None, catalog: Catalog | None = None) -> list[RoleRun]:
    """The role runs for a tenant, in order: database, identity, e-office.

    Mail has no role run in a tenant: its image builds Postfix, Dovecot and OpenDKIM from the pod's
    environment and mounts (service mailboxes from the mail-accounts Secret, abuse@/postmaster@ with
    copies to the contacts outside the domain), on a read-only root without Python. The spbe_mail role
    configures a mail server outside Kubernetes. `spbe verify` checks the pod either way.

    ``catalog``: the tenant's (default: the newest). It names the dashboards workload (``grafana`` up to
    2026.11), whose OIDC client
    the identity role registers. E-office is Mayan EDMS: its wiring is the MAYAN_* environment of its pod; the spbe_eoffice role
    gives it the correspondence baseline through its REST API (a port-forward), as its administrator.
    """
    tenant, domain = spec.tenant_id, spec.domain
    catalog = catalog or load_catalog()
    dashboards = dashboards_image(catalog)
    backup_secret = backup_secret_name(spec, catalog)  # in the platform's namespace when backups go to the store
    local = {"ansible_connection": "local"}
    runs = [RoleRun("database", "spbe_database", "localhost", local, {
        "spbe_database_login_host": reach.database_host, "spbe_database_login_port": reach.database_port,
        "spbe_database_login_password": credentials.get("database-superuser", "password"),
        "spbe_database_apps": [{"name": app, "password": credentials.get(f"database-{app}", "password")}
                               for app in app_databases(spec)],
        "spbe_database_backup_role": BACKUP_ROLE,  # the backup CronJob logs in as this role ...
        # ... with the password of the backup job's Secret (in the platform's namespace when backups go to the store)
        "spbe_database_backup_password": credentials.get(backup_secret, "password"),
        "spbe_database_hba_file": "",  # the image's pg_hba is not managed from the controller
    })]
    clients = [_dashboards_client(dashboards)]
    secrets = {dashboards: credentials.get(f"{dashboards}-oidc", "client-secret")}
    if spec.has(Component.EOFFICE):
        clients.insert(0, {"client_id": "eoffice", "name": "E-Office", "host": "eoffice",
                           "redirect_paths": [MAYAN_OIDC_CALLBACK]})
        secrets["eoffice"] = credentials.get("eoffice-oidc", "client-secret")
    if spec.has(Component.MAIL):
        clients.append({"client_id": "webmail", "name": "Webmail", "host": "webmail", "redirect_paths": ["/oidc/callback"]})
        secrets["webmail"] = credentials.get("webmail-oidc", "client-secret")
    smtp_host, smtp_port = smtp_endpoint(spec)
    identity_vars = {
        "spbe_identity_tenant": tenant, "spbe_identity_domain": domain, "spbe_identity_display_name": f"Pemerintah {spec.pemda.name}",
        "spbe_identity_url": reach.identity_url, "spbe_identity_admin_user": identity.ADMIN_USER,
        "spbe_identity_admin_password": credentials.get("identity-admin", "password"),
        "spbe_identity_clients": clients, "spbe_identity_client_secrets": secrets,
        # the tenant's mail (submission, with the noreply login), or the pemda's relay e-office uses
        "spbe_identity_smtp_host": smtp_host, "spbe_identity_smtp_port": int(smtp_port),
        "spbe_identity_smtp_user": noreply_address(spec) if spec.has(Component.MAIL) else "",
        "spbe_identity_smtp_password_vault_key": identity.SMTP_PASSWORD_VAULT_KEY,
    }
    runs.append(RoleRun("identity", "spbe_identity", "localhost", local, identity_vars))
    if spec.has(Component.EOFFICE):
        pod, container = reach.pods["eoffice"]
        runs.append(RoleRun("eoffice", "spbe_eoffice", "localhost", local, {
            "spbe_eoffice_url": reach.eoffice_url, "spbe_eoffice_host_header": "eoffice",
            "spbe_eoffice_namespace": tenant, "spbe_eoffice_pod": pod, "spbe_eoffice_container": container,
            "spbe_eoffice_kubeconfig": kubeconfig, "spbe_eoffice_kube_context": context or "",
            "spbe_eoffice_admin_user": EOFFICE_ADMIN,
        }))
    return runs

