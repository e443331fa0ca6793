"""The configuration plan: every role gets variables its argument spec accepts, credentials from the Secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from spbe_kit.configure.plan import Credentials, MissingCredential, Reach, configuration_plan
from spbe_kit.desired import identity
from spbe_kit.request import load_request
from spbe_kit.roles import role_defaults, role_vars, roles_dir

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _credentials(state) -> Credentials:
    """A distinct value for every generated key of the desired state, as the stack would make them."""
    values: dict[str, dict[str, str]] = {}
    for manifest in state.manifests:
        for key in manifest.generated_keys:
            values.setdefault(manifest.name, {})[key] = f"{manifest.name}/{key}/" + "x" * 32
    return Credentials(values)


REACH = Reach("http://127.0.0.1:18080", "127.0.0.1", 15432,
              {"mail": ("mail-0", "mail"), "eoffice": ("eoffice-6d9f-x", "eoffice")}, "http://127.0.0.1:18081")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_planned_role_run_passes_the_roles_argument_spec(path, catalog):
    from spbe_kit.desired import desired_state

    spec = load_request(path)
    state = desired_state(spec, catalog)
    runs = configuration_plan(spec, _credentials(state), REACH, "/k/config")
    assert runs, "nothing planned"
    for run in runs:
        options = yaml.safe_load((roles_dir() / run.role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
        result = ArgumentSpecValidator(options).validate(run.variables)
        assert not result.error_messages, f"{run.role}: {result.error_messages}"
        assert set(run.variables) <= set(role_defaults(run.role)), f"{run.role}: variables the role does not know"


def test_credentials_come_from_the_generated_secrets_only(banyuwangi):
    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    runs = {r.component: r for r in configuration_plan(spec, _credentials(banyuwangi), REACH, "/k/config")}
    ident = runs["identity"].variables
    assert ident["spbe_identity_admin_password"].startswith("identity-admin/password/")
    assert ident["spbe_identity_client_secrets"]["eoffice"].startswith("eoffice-oidc/client-secret/")
    assert ident["spbe_identity_client_secrets"]["dashboards"].startswith("dashboards-oidc/")
    assert ident["spbe_identity_smtp_user"] == "noreply@banyuwangikab.go.id"
    apps = {a["name"]: a["password"] for a in runs["database"].variables["spbe_database_apps"]}
    assert apps["eoffice"].startswith("database-eoffice/password/")
    # the backup role's password is the one of the job's Secret in the platform's backup namespace
    assert runs["database"].variables["spbe_database_backup_password"].startswith("kab-banyuwangi-backup/password/")
    # mail runs no role in a tenant: its image makes the service mailboxes from the mail-accounts Secret
    assert "mail" not in runs
    mail = banyuwangi.get("StatefulSet", "mail").body["spec"]["template"]["spec"]
    accounts = next(v for v in mail["volumes"] if v["name"] == "accounts")["secret"]
    assert accounts["secretName"] == "mail-accounts"
    assert {i["path"]: i["key"] for i in accounts["items"]} == {"noreply": "noreply-password",
                                                                 "postmaster": "postmaster-password"}
    mail_env = {e["name"]: e.get("value") for e in mail["containers"][0]["env"]}
    # the contact is inside the domain and has no mailbox here: postmaster@ gets no copy outside it
    assert "MAIL_POSTMASTER_COPIES" not in mail_env
    # Mayan is configured as the administrator its pod creates (MAYAN_AUTOADMIN_*), through the port-forward
    eoffice = runs["eoffice"]
    assert (eoffice.host, eoffice.connection) == ("localhost", {"ansible_connection": "local"})
    assert eoffice.variables["spbe_eoffice_url"] == "http://127.0.0.1:18081"
    # the API token is made in the e-office pod (Mayan's OIDC login leaves no password login for the API)
    assert (eoffice.variables["spbe_eoffice_pod"], eoffice.variables["spbe_eoffice_namespace"]) == \
        ("eoffice-6d9f-x", "kab-banyuwangi")
    assert role_vars("spbe_eoffice")["spbe_eoffice_token_command"][-1] == eoffice.variables["spbe_eoffice_admin_user"]
    env = {e["name"]: e for e in banyuwangi.get("Deployment", "eoffice").body["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MAYAN_AUTOADMIN_USERNAME"]["value"] == eoffice.variables["spbe_eoffice_admin_user"]
    assert "MAYAN_AUTOADMIN_PASSWORD" not in env  # random, never shown (OIDC logins only)
    assert env["MAYAN_EMAIL_HOST_USER"]["value"] == "noreply@banyuwangikab.go.id"
    assert env["SPBE_SMTP_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "mail-accounts"
    assert "x" * 32 not in repr(runs["identity"]) and "x" * 32 not in repr(_credentials(banyuwangi))


def test_identitys_vault_file_is_the_one_the_role_points_the_realm_at(banyuwangi):
    """The Deployment mounts <realm>_<key>; the realm reads ${vault.<key>}: both from one constant."""
    deployment = banyuwangi.get("Deployment", "identity").body["spec"]["template"]["spec"]
    vault = next(v for v in deployment["volumes"] if v["name"] == "vault")
    assert vault["secret"]["items"][0]["path"] == f"kab-banyuwangi_{identity.SMTP_PASSWORD_VAULT_KEY}"
    assert role_defaults("spbe_identity")["spbe_identity_smtp_password_vault_key"] == identity.SMTP_PASSWORD_VAULT_KEY


def test_pod_roles_reach_their_pod_through_kubectl_in_the_same_context(banyuwangi):
    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    runs = {r.component: r for r in configuration_plan(spec, _credentials(banyuwangi), REACH, "/k/config", "prod-b")}
    assert [r.component for r in runs.values()] == ["database", "identity", "eoffice"]
    assert runs["eoffice"].variables["spbe_eoffice_kube_context"] == "prod-b"
    assert runs["eoffice"].variables["spbe_eoffice_kubeconfig"] == "/k/config"
    assert runs["identity"].connection == {"ansible_connection": "local"}
    assert runs["identity"].variables["spbe_identity_url"] == "http://127.0.0.1:18080"


def test_a_missing_secret_names_itself(banyuwangi):
    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    with pytest.raises(MissingCredential) as error:
        configuration_plan(spec, Credentials({}), REACH, "/k/config")
    assert "database-superuser" in str(error.value) and "spbe tenant up" in str(error.value)


def test_a_tenant_without_mail_sends_account_mail_through_its_relay(catalog):
    from spbe_kit.desired import desired_state

    spec = load_request(ROOT / "examples" / "kota-bandung.yaml")
    state = desired_state(spec, catalog)
    runs = {r.component: r for r in configuration_plan(spec, _credentials(state), REACH, "/k/config")}
    ident = runs["identity"].variables
    assert (ident["spbe_identity_smtp_host"], ident["spbe_identity_smtp_port"], ident["spbe_identity_smtp_user"]) == \
        ("smtp.bandung.go.id", 587, "")
    env = {e["name"] for e in state.get("Deployment", "eoffice").body["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "MAYAN_EMAIL_HOST_USER" not in env and "mail" not in runs
    policy = state.get("NetworkPolicy", "allow-identity").body["spec"]["egress"]
    assert any(port.get("port") == 587 for rule in policy for port in rule.get("ports", []))


def test_failed_role_output_is_masked():
    from spbe_kit.configure.plan import RoleRun
    from spbe_kit.configure.run import _mask

    run = RoleRun("mail", "spbe_mail", "mail-0", {}, {
        "spbe_mail_mailboxes": [{"name": "noreply", "password": "Rahasia-Sekali-123"}],
        "spbe_mail_domain": "banyuwangikab.go.id"})
    masked = _mask("fatal: login noreply Rahasia-Sekali-123 refused on banyuwangikab.go.id", run)
    assert "Rahasia" not in masked and "****" in masked and "banyuwangikab.go.id" in masked


@pytest.mark.parametrize("dashboards, callback", [("dashboards", "/oidc/callback"), ("grafana", "/login/generic_oauth")])
def test_the_identity_role_registers_the_catalogs_dashboards_client(catalog, dashboards, callback):
    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired import desired_state

    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    older = load_catalog("2026.11" if dashboards == "grafana" else "2026.12")
    state = desired_state(spec, older)
    runs = {r.component: r for r in configuration_plan(spec, _credentials(state), REACH, "/k/config", None, older)}
    clients = {c["client_id"]: c for c in runs["identity"].variables["spbe_identity_clients"]}
    assert clients[dashboards]["redirect_paths"] == [callback] and clients[dashboards]["host"] == "monitoring"
    assert runs["identity"].variables["spbe_identity_client_secrets"][dashboards].startswith(f"{dashboards}-oidc/")
    assert not {"grafana", "dashboards"} - {dashboards} & set(clients)
