"""`spbe drift` against the real cluster: clean when it should be, and every kind of drift named."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from spbe_kit.drift.run import DriftOptions, drift

from .conftest import apply_state, delete_namespace, tenant_state, wait_for

pytestmark = pytest.mark.integration


def _request_dir(tmp_path: Path, region: str, tenant_id: str, tier: str) -> Path:
    from spbe_kit.catalog import load_catalog
    from spbe_kit.request import Tier, parse_request
    from spbe_kit.scaffold import new_request

    text = new_request(region, load_catalog(), Tier(tier))
    text = text.replace(f"name: {parse_request(text).tenant_id}", f"name: {tenant_id}", 1)
    folder = tmp_path / "requests"
    folder.mkdir(exist_ok=True)
    (folder / f"{tenant_id}.yaml").write_text(text)
    return folder


def _findings(report, tenant_id):
    result = next(t for t in report.tenants if t.tenant == tenant_id)
    return {(f.kind.value, f.object.kind, f.object.name, f.path) for f in result.findings}


def _wait_ready(api_client, state):
    apps = client.AppsV1Api(api_client)

    def ready():
        objs = [apps.read_namespaced_deployment(m.name, state.tenant_id) for m in state.of_kind("Deployment")]
        objs += [apps.read_namespaced_stateful_set(m.name, state.tenant_id) for m in state.of_kind("StatefulSet")]
        pending = [o.metadata.name for o in objs if (o.status.ready_replicas or 0) < o.spec.replicas]
        return not pending, str(pending)

    wait_for("workloads Ready", ready)


@pytest.fixture
def tenant(cluster, dyn, api_client, tmp_path):
    state = tenant_state("35.10", "drift-kab-banyuwangi", tier="small")
    apply_state(dyn, state)
    options = DriftOptions((state.tenant_id,), False, _request_dir(tmp_path, "35.10", state.tenant_id, "small"),
                           cluster.kubeconfig, hash_key_file=None)
    yield state, options
    delete_namespace(api_client, state.tenant_id)


def test_a_fresh_tenant_is_clean_before_and_after_the_controllers_settle(tenant, api_client):
    state, options = tenant
    assert _findings(drift(options), state.tenant_id) == set()
    _wait_ready(api_client, state)  # status, endpoints, bound volumes, generated fields all filled in now
    report = drift(options)
    assert report.clean and report.tenants[0].objects_checked == len(state.manifests)


def test_every_kind_of_drift_is_named_precisely(tenant, api_client):
    state, options = tenant
    ns = state.tenant_id
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    net, rbac = client.NetworkingV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    apps.patch_namespaced_deployment("identity", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "keycloak", "image": "quay.io/evil/keycloak:latest"}]}}}})
    apps.patch_namespaced_deployment("eoffice", ns, {"spec": {"replicas": 7}})
    core.patch_namespaced_resource_quota("spbe-quota", ns, {"spec": {"hard": {"requests.cpu": "500"}}})
    rbac.patch_namespaced_role_binding("spbe-tenant-admin", ns, {"subjects": [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": f"spbe:{ns}:admins"},
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory"}]})
    net.patch_namespaced_network_policy("allow-database", ns, [
        {"op": "add", "path": "/spec/ingress/-", "value": {}}], )  # an allow-all rule
    apps.patch_namespaced_stateful_set("database", ns, [
        {"op": "remove", "path": "/spec/template/spec/containers/0/securityContext/runAsNonRoot"}])
    core.patch_namespace(ns, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}})
    net.delete_namespaced_network_policy("default-deny", ns)
    rbac.create_namespaced_role_binding(ns, {"metadata": {"name": "backdoor"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory"}]})
    net.create_namespaced_network_policy(ns, {"metadata": {"name": "allow-all"}, "spec": {"podSelector": {},
                                                                                          "ingress": [{}]}})
    apps.create_namespaced_deployment(ns, {"metadata": {"name": "miner"}, "spec": {
        "selector": {"matchLabels": {"app": "miner"}}, "template": {"metadata": {"labels": {"app": "miner"}},
                                                                     "spec": {"containers": [{"name": "m", "image": "x"}]}}}})
    found = _findings(drift(options), ns)
    expected = {
        ("changed", "Deployment", "identity", "spec.template.spec.containers[name=keycloak].image"),
        ("changed", "Deployment", "eoffice", "spec.replicas"),
        ("changed", "ResourceQuota", "spbe-quota", "spec.hard.requests.cpu"),
        ("changed", "RoleBinding", "spbe-tenant-admin", "subjects[name=mallory]"),
        ("changed", "NetworkPolicy", "allow-database", "spec.ingress"),
        ("changed", "StatefulSet", "database", "spec.template.spec.containers[name=postgres].securityContext.runAsNonRoot"),
        ("changed", "Namespace", ns, "metadata.labels.pod-security.kubernetes.io/enforce"),
        ("missing", "NetworkPolicy", "default-deny", ""),
        ("stray", "RoleBinding", "backdoor", ""),
        ("stray", "NetworkPolicy", "allow-all", ""),
        ("stray", "Deployment", "miner", ""),
    }
    assert found == expected


def test_fields_the_baseline_does_not_own_are_not_drift(tenant, api_client):
    state, options = tenant
    ns = state.tenant_id
    apps = client.AppsV1Api(api_client)
    apps.patch_namespaced_deployment("dashboards", ns, {"metadata": {"annotations": {"ops.example/ticket": "INC-1"}},
                                                     "spec": {"progressDeadlineSeconds": 900}})
    client.CoreV1Api(api_client).patch_namespaced_service("identity", ns, {"metadata": {"labels": {"team": "ops"}}})
    assert _findings(drift(options), ns) == set()


def test_credentials_are_compared_by_keyed_hash_never_by_value(tenant, api_client, tmp_path, cluster):
    state, options = tenant
    ns = state.tenant_id
    key = tmp_path / "audit.key"
    key.write_text("an-auditor-held-key-of-enough-length")
    options = DriftOptions(options.targets, False, options.requests_dir, cluster.kubeconfig, hash_key_file=key)
    first = drift(options).to_dict()
    secret = client.CoreV1Api(api_client).read_namespaced_secret("identity-admin", ns)
    value = base64.b64decode(secret.data["password"]).decode()
    evidence = json.dumps(first)
    assert value not in evidence
    assert first["tenants"][0]["secretHashes"]["identity-admin"]["password"].startswith("hmac-sha256:")
    previous = tmp_path / "previous.json"
    previous.write_text(evidence)
    client.CoreV1Api(api_client).patch_namespaced_secret("identity-admin", ns, {"stringData": {"password": "rotated-by-hand"}})
    later = drift(DriftOptions(options.targets, False, options.requests_dir, cluster.kubeconfig, hash_key_file=key,
                               previous_report=previous))
    assert _findings(later, ns) == {("secret-changed", "Secret", "identity-admin", "data.password")}
    assert "rotated-by-hand" not in json.dumps(later.to_dict())


def test_an_auditor_without_secret_access_gets_unverified_not_clean(tenant, api_client, cluster, tmp_path):
    state, options = tenant
    report = drift(DriftOptions(options.targets, False, options.requests_dir, cluster.kubeconfig,
                                impersonate=("budi", "spbe:auditors")))
    found = _findings(report, state.tenant_id)
    # the auditor role reads everything in the namespace but Secrets; the Namespace object is cluster-scoped
    assert {(kind, obj) for kind, obj, _name, _path in found} == {("unverified", "Secret"), ("unverified", "Namespace")}
    assert len(found) == len(state.of_kind("Secret")) + 1
    assert report.tenants[0].status == "unverified" and not report.clean


def test_the_cli_exit_codes_outputs_and_evidence(tenant, cluster, tmp_path):
    state, options = tenant
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SPBE_KUBECONFIG")}
    base = [sys.executable, "-m", "spbe_kit", "drift", state.tenant_id, "--requests", str(options.requests_dir),
            "--kubeconfig", str(cluster.kubeconfig)]
    clean = subprocess.run(base + ["--output", "junit", "--evidence", str(tmp_path / "ev"), "--lang", "id"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert 'failures="0"' in clean.stdout
    files = sorted(p.name for p in (tmp_path / "ev").iterdir())
    assert len(files) == 3 and files[0].endswith(".html") and files[1].endswith(".json")
    client.AppsV1Api(config_client(cluster)).patch_namespaced_deployment(
        "eoffice", state.tenant_id, {"spec": {"replicas": 3}})
    drifted = subprocess.run(base + ["--output", "json"], capture_output=True, text=True, env=env, timeout=120)
    assert drifted.returncode == 1
    assert json.loads(drifted.stdout)["summary"]["drifted"] == 1
    unknown = subprocess.run(base[:4] + ["no-such-tenant"] + base[5:], capture_output=True, text=True, env=env)
    assert unknown.returncode == 2 and "no valid request for tenant 'no-such-tenant'" in unknown.stderr


def config_client(cluster):
    from kubernetes import config

    return config.new_client_from_config(config_file=str(cluster.kubeconfig))
