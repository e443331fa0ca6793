"""The desired state holds the baseline's guardrails for every example tenant, by construction."""

from __future__ import annotations

import json

import builtins
import socket
import subprocess

import pytest

from spbe_kit.desired import desired_state
from spbe_kit.desired.context import LABEL_CATALOG, LABEL_COMPONENT, LABEL_REGION, LABEL_TENANT
from spbe_kit.request import Component, Tier, parse_request

POD_KINDS = ("Deployment", "StatefulSet", "CronJob")


def pod_specs(state):
    """(manifest, pod spec) for every workload."""
    for m in state.manifests:
        if m.kind == "CronJob":
            yield m, m.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif m.kind in POD_KINDS:
            yield m, m.body["spec"]["template"]["spec"]


def test_every_object_is_labelled_with_tenant_component_and_catalog(example_state, catalog):
    tenant = example_state.tenant_id
    for m in example_state.manifests:
        labels = m.body["metadata"]["labels"]
        assert labels[LABEL_TENANT] == tenant, m.key
        assert labels[LABEL_COMPONENT] == m.component, m.key
        assert labels[LABEL_CATALOG] == example_state.catalog_version, m.key
        if m.namespace == catalog.backup.namespace:  # only the backup jobs the platform runs, named after the tenant
            assert m.component == "database" and m.name.startswith(f"{tenant}-"), m.key
        else:
            assert m.namespace in (None, tenant), m.key


def test_outside_its_namespace_a_tenant_has_only_its_backup_jobs_their_accounts_and_their_secret(example_state, catalog):
    assert catalog.backup.to_store
    tenant = example_state.tenant_id
    outside = sorted((m.kind, m.name) for m in example_state.manifests if m.namespace not in (None, tenant))
    assert outside == [("CronJob", f"{tenant}-backup"), ("CronJob", f"{tenant}-restore-check"),
                       ("Secret", f"{tenant}-backup"),
                       ("ServiceAccount", f"{tenant}-backup"), ("ServiceAccount", f"{tenant}-restore-check")]
    secret = example_state.get("Secret", f"{tenant}-backup")
    # the store's address and the tenant's identity come from the platform; only the role's password is random
    assert set(secret.platform_keys) == {"repository", "restic-password", "access-key", "secret-key", "region"}
    assert set(secret.generated_keys) - set(secret.platform_keys) == {"password"}
    # the tenant keeps no copy of the backup role's password nor any backup volume
    assert ("Secret", "database-backup") not in {(m.kind, m.name) for m in example_state.manifests}
    assert not [m for m in example_state.of_kind("PersistentVolumeClaim") if m.name == "database-backups"]


def test_namespace_enforces_pod_security_restricted_and_names_the_region(example_state):
    ns = example_state.get("Namespace", example_state.tenant_id).body["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns[LABEL_REGION]


def test_every_container_is_hardened_and_sized(example_state):
    for m, pod in pod_specs(example_state):
        assert pod["automountServiceAccountToken"] is False, m.key
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False, m.key
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"]["type"] == "RuntimeDefault"
            assert set(c["resources"]) == {"requests", "limits"}
            assert "@sha256:" in c["image"]
            if m.kind != "CronJob":  # a job's container runs to completion; probes are for servers
                assert "livenessProbe" in c and "readinessProbe" in c, m.key


def test_each_workload_runs_as_its_own_service_account_without_token(example_state):
    accounts = {m.name: m.body for m in example_state.of_kind("ServiceAccount")}
    used = [pod["serviceAccountName"] for _, pod in pod_specs(example_state)]
    assert len(used) == len(set(used)), "no two workloads share an account"
    for name in used:
        assert accounts[name]["automountServiceAccountToken"] is False


def test_every_referenced_secret_configmap_and_claim_is_in_the_state(example_state):
    names = {(m.kind, m.name) for m in example_state.manifests}
    for m, pod in pod_specs(example_state):
        for vol in pod.get("volumes", []):
            if "secret" in vol:
                assert ("Secret", vol["secret"]["secretName"]) in names, m.key
            if "configMap" in vol:
                assert ("ConfigMap", vol["configMap"]["name"]) in names, m.key
            if "persistentVolumeClaim" in vol:
                assert ("PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"]) in names, m.key
        for c in pod["containers"]:
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret = example_state.get("Secret", ref["name"])
                    assert ref["key"] in secret.generated_keys


def test_secrets_carry_no_values_only_the_keys_to_generate(example_state):
    for m in example_state.of_kind("Secret"):
        assert "data" not in m.body and "stringData" not in m.body
        assert m.generated_keys


def test_network_is_default_deny_and_every_policy_targets_a_real_workload(example_state):
    policies = {m.name: m.body["spec"] for m in example_state.of_kind("NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    selectors = [pod_labels for _, pod_labels in _pod_labels(example_state)]
    for name, spec in policies.items():
        if name in ("default-deny", "allow-dns"):
            continue
        target = spec["podSelector"]["matchLabels"]
        assert any(target.items() <= labels.items() for labels in selectors), name
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                if "podSelector" in peer:
                    assert any(peer["podSelector"]["matchLabels"].items() <= lab.items() for lab in selectors), name


def _pod_labels(state):
    for m in state.manifests:
        if m.kind == "CronJob":
            yield m, m.body["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        elif m.kind in POD_KINDS:
            yield m, m.body["spec"]["template"]["metadata"]["labels"]


def test_left_out_components_leave_no_objects_and_no_paths(catalog):
    from pathlib import Path

    spec = parse_request((Path(__file__).resolve().parents[2] / "examples" / "kota-bandung.yaml").read_text())
    state = desired_state(spec, catalog)
    assert Component.MAIL not in spec.components
    assert not [m for m in state.manifests if m.component == "mail"]
    text = repr([m.body for m in state.of_kind("NetworkPolicy")])
    assert "'mail'" not in text
    egress = state.get("NetworkPolicy", "allow-eoffice").body["spec"]["egress"]
    assert {"protocol": "TCP", "port": 587} in [p for rule in egress for p in rule["ports"]]


def test_rbac_admins_manage_their_apps_but_not_the_fence_and_auditors_never_read_secrets(example_state):
    admin = example_state.get("Role", "spbe-tenant-admin").body["rules"]
    auditor = example_state.get("Role", "spbe-auditor").body["rules"]
    for rules in (admin, auditor):
        for rule in rules:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
    writes = {"create", "update", "patch", "delete"}
    admin_writes = {r for rule in admin if writes & set(rule["verbs"]) for r in rule["resources"]}
    assert {"deployments", "secrets", "pods"} <= admin_writes
    assert not admin_writes & {"resourcequotas", "limitranges", "networkpolicies", "roles", "rolebindings"}
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in auditor)
    assert "secrets" not in {r for rule in auditor for r in rule["resources"]}
    subjects = example_state.get("RoleBinding", "spbe-tenant-admin").body["subjects"]
    assert subjects[0]["name"] == f"spbe:{example_state.tenant_id}:admins"


def test_stateful_parts_have_disruption_budgets(example_state):
    budgets = {m.name for m in example_state.of_kind("PodDisruptionBudget")}
    assert {m.name for m in example_state.of_kind("StatefulSet")} <= budgets


def test_backups_are_always_there_with_the_requested_schedule(example_state, catalog):
    tenant = example_state.tenant_id
    backup = example_state.get("CronJob", f"{tenant}-backup")
    check = example_state.get("CronJob", f"{tenant}-restore-check")
    assert backup.namespace == check.namespace == catalog.backup.namespace == "spbe-backups"
    assert backup.body["spec"]["schedule"] and backup.body["spec"]["concurrencyPolicy"] == "Forbid"
    assert backup.body["spec"]["suspend"] is False  # stated, so a paused backup is drift
    assert check.body["spec"]["schedule"] == catalog.backup.restore_check_schedule
    for job in (backup, check):
        container = job.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == catalog.image("backup")
        script = container["command"][-1]
        # the store's address and identity are read from the Secret's files, never written into the object
        assert 'RESTIC_REPOSITORY="$(cat /run/secrets/backup/repository)"' in script
        assert "restic" in script and "s3:" not in script


def test_the_backup_job_dumps_as_the_read_only_role_and_the_restore_check_checks_sha256sums(banyuwangi, catalog):
    tenant = banyuwangi.tenant_id
    backup = banyuwangi.get("CronJob", f"{tenant}-backup").body["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in backup["containers"][0]["env"]}
    assert env["PGUSER"] == "spbe_backup" and env["PGSSLMODE"] == "require"
    assert env["PGHOST"] == f"database.{tenant}.svc" and env["SPBE_TENANT"] == tenant
    assert "restic --no-cache --quiet backup --host \"$SPBE_TENANT\"" in backup["containers"][0]["command"][-1]
    check = banyuwangi.get("CronJob", f"{tenant}-restore-check").body["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    script = check["containers"][0]["command"][-1]
    assert "sha256sum --quiet --check SHA256SUMS" in script and "ON_ERROR_STOP=1" in script
    assert "/scratch/backups/latest" in script and " /backups" not in script


def test_the_tenants_database_admits_only_its_own_backup_job_from_the_platforms_namespace(banyuwangi):
    tenant = banyuwangi.tenant_id
    policy = banyuwangi.get("NetworkPolicy", "allow-database").body["spec"]
    peers = [peer for rule in policy["ingress"] for peer in rule["from"] if "namespaceSelector" in peer]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "spbe-backups"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "backup",
                                            "app.kubernetes.io/instance": tenant}}} in peers
    names = {m.name for m in banyuwangi.of_kind("NetworkPolicy")}
    assert "allow-database-backup" not in names and "allow-database-restore-check" not in names


def test_request_backup_settings_reach_the_job(banyuwangi):
    spec = banyuwangi.get("CronJob", f"{banyuwangi.tenant_id}-backup").body["spec"]
    assert spec["schedule"] == "0 1 * * *"


def test_up_to_2026_12_the_jobs_stay_in_the_tenant_and_prune_by_the_requested_retention():
    from spbe_kit.catalog import load_catalog
    from tests.conftest import ROOT
    from spbe_kit.request import load_request

    state = desired_state(load_request(ROOT / "examples" / "kab-banyuwangi.yaml"), load_catalog("2026.12"))
    spec = state.get("CronJob", "database-backup").body["spec"]
    assert state.get("CronJob", "database-backup").namespace == state.tenant_id
    script = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "-mtime +30" in script
    state.get("PersistentVolumeClaim", "database-backups")


def test_quota_and_limits_come_from_the_tier(example_state, catalog):
    tier = example_state.get("Namespace", example_state.tenant_id).body["metadata"]["annotations"]["spbe.go.id/tier"]
    quota = example_state.get("ResourceQuota", "spbe-quota").body["spec"]["hard"]
    assert quota == catalog.tiers[Tier(tier)].quota


def test_changing_the_tier_changes_only_sizes(catalog):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "examples" / "kab-banyuwangi.yaml").read_text()
    medium = desired_state(parse_request(text), catalog)
    small = desired_state(parse_request(text.replace("tier: medium", "tier: small")), catalog)
    assert [m.key for m in medium.manifests] == [m.key for m in small.manifests]
    changed = {m.kind for m, n in zip(medium.manifests, small.manifests) if m.body != n.body}
    assert changed == {"Namespace", "ResourceQuota", "LimitRange", "PersistentVolumeClaim", "StatefulSet",
                       "Deployment", "CronJob"}


def test_desired_state_is_pure_and_deterministic(monkeypatch, catalog):
    from pathlib import Path

    spec = parse_request((Path(__file__).resolve().parents[2] / "examples" / "kab-banyuwangi.yaml").read_text())
    first = desired_state(spec, catalog)

    def no_io(*args, **kwargs):
        raise AssertionError("the desired state must not do I/O")

    monkeypatch.setattr(builtins, "open", no_io)
    monkeypatch.setattr(socket, "socket", no_io)
    monkeypatch.setattr(subprocess, "run", no_io)
    second = desired_state(spec, catalog)
    monkeypatch.undo()
    assert first == second


def test_registry_override_reaches_every_container(catalog):
    from pathlib import Path

    spec = parse_request((Path(__file__).resolve().parents[2] / "examples" / "kab-banyuwangi.yaml").read_text())
    state = desired_state(spec, catalog.with_registry("mirror.pdn.go.id"))
    images = [c["image"] for _, pod in pod_specs(state) for c in pod["containers"]]
    assert images and all(i.startswith("mirror.pdn.go.id/") for i in images)


@pytest.mark.parametrize("kind", ["Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "Role", "RoleBinding",
                                  "ServiceAccount", "PodDisruptionBudget", "CronJob", "Ingress"])
def test_every_guardrail_kind_is_present(example_state, kind):
    assert example_state.of_kind(kind)


@pytest.mark.parametrize("version, prebuilt", [("2026.11", False), ("2026.12", True)])
def test_identity_runs_as_its_catalogs_image_needs(version, prebuilt):
    """The baseline Keycloak image runs from a read-only root (its build step writes into the data
    volume); the upstream image of 2026.11 rewrites /opt/keycloak at start and needs it writable."""
    from spbe_kit.catalog import load_catalog
    from spbe_kit.request import load_request
    from tests.conftest import ROOT

    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    state = desired_state(spec, load_catalog(version))
    pod = state.get("Deployment", "identity").body["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    # the baseline image imports the tenant's realm on its first start (2026.11 stays as rolled out)
    assert container["args"] == (["start", "--import-realm"] if prebuilt else ["start"])
    if prebuilt:
        realm = json.loads(state.get("ConfigMap", "identity-realm").body["data"]["kab-banyuwangi.json"])
        assert realm == {"realm": "kab-banyuwangi", "enabled": True, "sslRequired": "external",
                         "displayName": "Pemerintah Kabupaten Banyuwangi"}
        assert {"name": "realm", "mountPath": "/opt/keycloak/data/import", "readOnly": True} in container["volumeMounts"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is prebuilt
    annotations = state.get("Deployment", "identity").body["metadata"].get("annotations", {})
    assert any("CKV_K8S_22" in v for v in annotations.values()) is not prebuilt
    assert any(m["mountPath"] == "/opt/keycloak/data" for m in container["volumeMounts"])


@pytest.mark.parametrize("version", ["2026.11", "2026.12"])
def test_eoffice_is_configured_the_way_mayan_reads_it(version):
    """Mayan EDMS's own MAYAN_* settings, secrets substituted from Secrets, documents on a volume: one
    app contract for every catalog version (2026.11 only lacks the image)."""
    import yaml

    from spbe_kit.catalog import load_catalog
    from spbe_kit.request import load_request
    from tests.conftest import ROOT

    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    catalog = load_catalog(version)
    state = desired_state(spec, catalog)
    deployment = state.get("Deployment", "eoffice").body
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert not [name for name in env if name.startswith("EOFFICE_")], "the invented contract is gone"
    databases = yaml.safe_load(env["MAYAN_DATABASES"]["value"])["default"]
    assert databases["OPTIONS"] == {"sslmode": "require"} and databases["HOST"] == "database"
    assert databases["PASSWORD"] == "$(SPBE_DB_PASSWORD)"
    assert env["SPBE_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "database-eoffice", "key": "password"}
    names = list(env)
    assert names.index("SPBE_DB_PASSWORD") < names.index("MAYAN_DATABASES"), "$(VAR) only sees earlier variables"
    oidc = yaml.safe_load(env["MAYAN_AUTHENTICATION_BACKEND_ARGUMENTS"]["value"])
    assert oidc["oidc_discovery_url"] == f"http://identity:8080/realms/{spec.tenant_id}/.well-known/openid-configuration"
    assert oidc["oidc_rp_client_id"] == "eoffice" and oidc["oidc_rp_sign_algo"] == "RS256"
    assert env["MAYAN_EMAIL_USE_TLS"]["value"] == "true"
    # the administrator the role acts as (by an API token made in the pod); no password is handed out
    assert env["MAYAN_AUTOADMIN_USERNAME"]["value"] == "spbe-admin" and "MAYAN_AUTOADMIN_PASSWORD" not in env
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/var/lib/mayan"] == "data"
    assert state.get("PersistentVolumeClaim", "eoffice-data")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # one writer of the document volume
    for value in (e.get("value", "") for e in container["env"]):
        assert "password" not in value.lower() or "$(" in value, value


def test_dashboards_are_prometheus_consoles_behind_an_oidc_login_from_2026_12():
    """Grafana (AGPL) gives way to the baseline's dashboards image: reachable only from the ingress,
    talking only to identity (OIDC) and Prometheus; Prometheus serves the tenant's consoles."""
    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired.ingress import endpoints
    from spbe_kit.desired.context import TenantContext
    from spbe_kit.request import load_request
    from tests.conftest import ROOT

    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    state = desired_state(spec, load_catalog("2026.12"))
    names = {(m.kind, m.name) for m in state.manifests}
    assert ("Deployment", "dashboards") in names and not [n for n in names if "grafana" in n[1]]
    assert endpoints(TenantContext(spec, load_catalog("2026.12")))["monitoring.banyuwangikab.go.id"] == ("dashboards", 8000)
    policy = state.get("NetworkPolicy", "allow-dashboards").body["spec"]
    ingress = [(p["port"], rule["from"][0].get("namespaceSelector")) for rule in policy["ingress"] for p in rule["ports"]]
    assert len(ingress) == 1 and ingress[0][0] == 8000 and ingress[0][1], ingress
    egress = sorted((rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"], rule["ports"][0]["port"])
                    for rule in policy["egress"])
    assert egress == [("identity", 8080), ("prometheus", 9090)]
    env = {e["name"]: e for e in state.get("Deployment", "dashboards").body["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SPBE_OIDC_REDIRECT_URI"]["value"] == "https://monitoring.banyuwangikab.go.id/oidc/callback"
    assert env["SPBE_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "dashboards-oidc", "key": "client-secret"}
    prometheus = state.get("StatefulSet", "prometheus").body["spec"]["template"]["spec"]["containers"][0]
    assert "--web.console.templates=/etc/prometheus-consoles" in prometheus["args"]
    consoles = state.get("ConfigMap", "prometheus-consoles").body["data"]
    assert "Pemantauan tenant kab-banyuwangi" in consoles["spbe-tenant.html"] and "spbe_head" in consoles["spbe.lib"]
    # a tenant pinned to 2026.11 keeps its Grafana
    old = desired_state(spec, load_catalog("2026.11"))
    assert old.get("Deployment", "grafana") and not [m for m in old.manifests if "dashboards" in m.name]
    assert "--web.console.templates=/etc/prometheus-consoles" not in \
        old.get("StatefulSet", "prometheus").body["spec"]["template"]["spec"]["containers"][0]["args"]


def test_identity_replicas_reach_each_other_for_their_cluster_and_nothing_else_does(banyuwangi):
    """JGroups over JDBC_PING: the replicas need 7800 and 57800 between them, from identity pods only."""
    spec = banyuwangi.get("NetworkPolicy", "allow-identity").body["spec"]
    peers = {(rule["from"][0].get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name"), port["port"])
             for rule in spec["ingress"] for port in rule["ports"]}
    assert {("identity", 7800), ("identity", 57800)} <= peers
    assert {p for name, p in peers if p in (7800, 57800) and name != "identity"} == set()
    env = {e["name"]: e.get("value") for e in
           banyuwangi.get("Deployment", "identity").body["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["KC_CACHE"], env["KC_CACHE_STACK"]) == ("ispn", "jdbc-ping")
