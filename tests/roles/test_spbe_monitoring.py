"""The spbe_monitoring role against a real Prometheus: idempotent, check-mode safe, proven through its API."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import yaml

from .ansible_run import run_playbook


def _api(server, path: str):
    with urllib.request.urlopen(f"{server.url}{path}", timeout=5) as response:
        return json.loads(response.read())["data"]


@pytest.fixture(scope="module")
def monitoring(prometheus_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitoring")
    variables = {
        "spbe_monitoring_tenant": "kab-banyuwangi",
        "spbe_monitoring_config_dir": str(prometheus_server.config_dir),
        "spbe_monitoring_rules_dir": str(prometheus_server.config_dir / "rules"),
        "spbe_monitoring_targets": [{"job": "prometheus", "targets": [f"127.0.0.1:{prometheus_server.port}"]},
                                    {"job": "identity", "targets": ["127.0.0.1:9"]}],
        "spbe_monitoring_prometheus_url": prometheus_server.url,
        "spbe_monitoring_grafana_dir": str(tmp / "grafana"),
    }
    check = run_playbook("monitoring.yml", variables, tmp, check=True)
    first = run_playbook("monitoring.yml", variables, tmp)
    second = run_playbook("monitoring.yml", variables, tmp)
    return variables, (check, first, second), tmp


def test_check_mode_writes_nothing_then_two_runs_converge(monitoring, prometheus_server):
    _, (check, first, second), _ = monitoring
    assert check.rc == 0, check.output[-3000:]
    assert first.rc == 0 and first.changed > 0, first.output[-3000:]
    assert second.rc == 0 and second.changed == 0, second.output[-3000:]


def test_prometheus_loaded_the_tenant_jobs_labelled_with_the_tenant(monitoring, prometheus_server):
    config = yaml.safe_load(_api(prometheus_server, "/api/v1/status/config")["yaml"])
    assert config["global"]["external_labels"] == {"tenant": "kab-banyuwangi"}
    assert {job["job_name"] for job in config["scrape_configs"]} == {"prometheus", "identity"}


def test_the_baseline_alert_rules_are_loaded(monitoring, prometheus_server):
    groups = _api(prometheus_server, "/api/v1/rules")["groups"]
    rules = {r["name"] for g in groups if g["name"] == "spbe-tenant-kab-banyuwangi" for r in g["rules"]}
    assert rules == {"ComponentDown", "DatabaseBackupTooOld", "PrometheusConfigReloadFailed"}


def test_a_down_component_is_seen_with_the_tenant_label(monitoring, prometheus_server):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        targets = _api(prometheus_server, "/api/v1/targets")["activeTargets"]
        health = {t["labels"]["job"]: (t["health"], t["labels"].get("tenant")) for t in targets}
        if health.get("identity", ("unknown",))[0] != "unknown" and health.get("prometheus", ("unknown",))[0] != "unknown":
            break
        time.sleep(1)
    assert health["prometheus"] == ("up", "kab-banyuwangi")
    assert health["identity"] == ("down", "kab-banyuwangi")  # nothing listens on port 9


def test_grafana_gets_a_datasource_and_a_read_only_dashboard(monitoring):
    variables, _, _ = monitoring
    root = __import__("pathlib").Path(variables["spbe_monitoring_grafana_dir"])
    datasource = yaml.safe_load((root / "datasources" / "spbe.yml").read_text())["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["isDefault"] is True
    dashboard = json.loads((root / "dashboards" / "spbe" / "tenant-overview.json").read_text())
    assert dashboard["uid"] == "spbe-kab-banyuwangi" and dashboard["editable"] is False


def test_a_config_promtool_rejects_never_replaces_the_working_one(monitoring, prometheus_server):
    variables, _, tmp = monitoring
    bad = dict(variables, spbe_monitoring_scrape_interval="soon")  # a string to the role, not a duration to Prometheus
    result = run_playbook("monitoring.yml", bad, tmp)
    assert result.rc != 0 and "failed to validate" in result.output
    assert "soon" not in (prometheus_server.config_dir / "prometheus.yml").read_text()
    assert "soon" not in (prometheus_server.config_dir / "rules" / "spbe-tenant.yml").read_text()
    config = yaml.safe_load(_api(prometheus_server, "/api/v1/status/config")["yaml"])
    assert config["global"]["scrape_interval"] == "30s"  # still running the last good configuration
