"""Monitoring (Prometheus): listening, the tenant's label, rules and configuration that promtool accepts."""

from spbe_kit.verify.suite.checks import listens_as_configured


def test_prometheus_listens(node, facts):
    ok, why = listens_as_configured(node, facts.listen_address, facts.port)
    assert ok, why


def test_config_labels_every_series_with_the_tenant(node, facts):
    config = node.file(facts.config_file)
    assert config.exists, f"{facts.config_file} is missing"
    assert not config.mode & 0o002, f"{facts.config_file} is writable by everyone"
    assert config.contains(f"tenant: {facts.tenant}$"), f"{facts.config_file} does not label series tenant={facts.tenant}"


def test_alert_rules_pass_promtool(node, facts):
    result = node.run("promtool check rules %s", facts.rules_file)
    assert result.rc == 0, f"promtool rejects {facts.rules_file}: {(result.stdout + result.stderr).strip()[-300:]}"


def test_config_passes_promtool(node, facts):
    result = node.run("promtool check config --syntax-only %s", facts.config_file)
    assert result.rc == 0, f"promtool rejects {facts.config_file}: {(result.stdout + result.stderr).strip()[-300:]}"
