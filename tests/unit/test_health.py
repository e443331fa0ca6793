"""Health is claimed only on evidence: what is missing is a problem, what cannot be seen is unknown."""

from __future__ import annotations

from spbe_kit.health import HEALTHY, NOT_HEALTHY, UNKNOWN, TenantHealth, WorkloadHealth


def _tenant(**kw) -> TenantHealth:
    live = TenantHealth("kab-x", True, components={"identity": [WorkloadHealth("Deployment", "identity", 2, 2)]}, **kw)
    live._secret_keys.append("identity-admin/password")
    live.credentials_checked = 1
    return live


def test_ready_workloads_on_real_nodes_with_every_credential_are_healthy():
    live = _tenant()
    live.expect({"identity-admin": ["password"]}, ["Deployment/identity"])
    assert live.verdict == HEALTHY and live.problems == [] and live.unknowns == []


def test_a_workload_scaled_to_zero_is_not_healthy():
    live = TenantHealth("kab-x", True, components={"identity": [WorkloadHealth("Deployment", "identity", 0, 0)]})
    assert live.verdict == NOT_HEALTHY and "scaled to zero" in live.problems[0]


def test_what_the_stack_recorded_but_the_cluster_lacks_is_a_problem():
    live = _tenant()
    live.expect({"identity-admin": ["password"], "grafana-admin": ["password"]},
                ["Deployment/identity", "StatefulSet/database"])
    assert live.verdict == NOT_HEALTHY
    assert live.problems == ["credential grafana-admin/password has no value", "StatefulSet/database is missing"]


def test_simulated_pods_or_unreadable_nodes_are_unknown_never_healthy():
    simulated = TenantHealth("kab-x", True, components={
        "identity": [WorkloadHealth("Deployment", "identity", 2, 2, simulated=True)]})
    assert simulated.verdict == UNKNOWN and not simulated.healthy
    blind = _tenant(nodes_readable=False)
    assert blind.verdict == UNKNOWN and "may not be read" in blind.unknowns[0]


def test_a_backup_secret_in_the_platforms_namespace_these_credentials_may_not_read_is_unknown_not_missing():
    live = _tenant(unreadable=["spbe-backups/kab-x-backup"])
    live.expect({"identity-admin": ["password"], "kab-x-backup": ["password", "repository"]}, ["Deployment/identity"])
    assert live.problems == [] and live.verdict == UNKNOWN
    assert "spbe-backups/kab-x-backup" in live.unknowns[0]
    # readable and absent, it is a problem like any other
    seen = _tenant()
    seen.expect({"identity-admin": ["password"], "kab-x-backup": ["password"]}, ["Deployment/identity"])
    assert seen.problems == ["credential kab-x-backup/password has no value"]
