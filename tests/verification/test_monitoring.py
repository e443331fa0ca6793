"""What must hold on a tenant's monitoring (testinfra)."""


def test_prometheus_listens_on_loopback_only(host, monitoring):
    assert host.socket(f"tcp://127.0.0.1:{monitoring.port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{monitoring.port}").is_listening


def test_prometheus_config_names_the_tenant(host, monitoring):
    config = host.file(str(monitoring.config_dir / "prometheus.yml"))
    assert config.mode == 0o644 and config.contains("tenant: kab-banyuwangi")


def test_alert_rules_pass_promtool(host, monitoring):
    result = host.run(f"promtool check rules {monitoring.config_dir / 'rules' / 'spbe-tenant.yml'}")
    assert result.rc == 0 and "3 rules found" in result.stdout


def test_prometheus_is_ready(host, monitoring):
    result = host.run(f"python3 -c \"import urllib.request; print(urllib.request.urlopen('{monitoring.url}/-/ready').status)\"")
    assert result.stdout.strip() == "200"
