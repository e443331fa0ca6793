"""The platform's backup namespace and the values only the platform gives a tenant's backup jobs (2027.01 on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spbe_kit.backups import platform
from spbe_kit.backups.job import STORE_KEYS, store_values
from spbe_kit.backups.store import Credentials, StoreSettings
from spbe_kit.catalog import load_catalog
from spbe_kit.errors import ProvisionError


def _settings(tmp_path: Path, endpoint: str = "http://127.0.0.1:18333", pods: str | None = None) -> StoreSettings:
    key = tmp_path / "master.key"
    key.write_bytes(b"m" * 48)
    key.chmod(0o600)
    return StoreSettings(endpoint=endpoint, bucket="spbe-backups", admin=Credentials("spbe-platform", "x" * 40),
                         master_key_file=key, pod_endpoint=pods)


def test_the_namespace_is_fenced_and_lets_its_pods_reach_only_dns_the_tenants_databases_and_the_store(tmp_path):
    catalog = load_catalog("2027.01")
    objects = platform.namespace_objects(catalog, _settings(tmp_path, pods="http://10.0.0.7:18333"))
    by = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    ns = by[("Namespace", "spbe-backups")]["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "restricted" and "spbe.go.id/tenant" not in ns
    assert by[("NetworkPolicy", "default-deny")]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    store = by[("NetworkPolicy", "allow-backup-store")]["spec"]["egress"]
    assert store == [{"to": [{"ipBlock": {"cidr": "10.0.0.7/32"}}], "ports": [{"protocol": "TCP", "port": 18333}]}]
    databases = by[("NetworkPolicy", "allow-tenant-databases")]["spec"]["egress"][0]
    assert databases["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert databases["to"][0]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "database"}}
    # no ingress is allowed anywhere, and auditors read jobs but never Secrets
    assert not [o for o in objects if o["kind"] == "NetworkPolicy" and "ingress" in o["spec"]]
    rules = by[("Role", "auditor")]["rules"]
    assert "secrets" not in {r for rule in rules for r in rule["resources"]}
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in rules)
    assert by[("RoleBinding", "auditor")]["subjects"][0]["name"] == catalog.platform.auditor_group


def test_a_store_by_host_name_is_resolved_for_the_egress_policy():
    assert platform.store_addresses("https://localhost") == (["127.0.0.1"], 443)
    assert platform.store_addresses("http://192.0.2.9:8333") == (["192.0.2.9"], 8333)
    with pytest.raises(ProvisionError, match="does not resolve"):
        platform.store_addresses("https://no-such-host.invalid")


def test_the_jobs_get_the_pods_endpoint_and_the_tenants_own_append_only_identity(tmp_path):
    settings = _settings(tmp_path, pods="http://10.0.0.7:18333")
    values = store_values(settings, "kab-banyuwangi")
    assert set(values) == set(STORE_KEYS)
    assert values["repository"] == "s3:http://10.0.0.7:18333/spbe-backups/tenants/kab-banyuwangi"
    assert values["access-key"] == "spbe-kab-banyuwangi" and len(values["restic-password"]) == 64
    other = store_values(settings, "kota-bandung")
    assert other["secret-key"] != values["secret-key"] and other["restic-password"] != values["restic-password"]
    # without a pods' endpoint the pods use the store's own
    assert store_values(_settings(tmp_path), "kab-banyuwangi")["repository"].startswith("s3:http://127.0.0.1:18333/")


def test_only_a_catalog_that_sends_backups_to_the_store_needs_the_platforms_values(banyuwangi, monkeypatch):
    from spbe_kit.desired import desired_state
    from spbe_kit.request import load_request
    from tests.conftest import ROOT

    older = desired_state(load_request(ROOT / "examples" / "kab-banyuwangi.yaml"), load_catalog("2026.12"))
    assert platform.platform_values(older) == {} and platform.store_secrets(older) == []
    monkeypatch.setenv("SPBE_STATE_DIR", "/nonexistent/spbe-state")
    monkeypatch.delenv("SPBE_BACKUP_STORE", raising=False)
    with pytest.raises(ProvisionError, match="keeps kab-banyuwangi's backups in the platform's backup store"):
        platform.platform_values(banyuwangi)
