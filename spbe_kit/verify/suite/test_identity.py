"""Identity (Keycloak): the HTTP and management ports are served."""

from spbe_kit.verify.suite.checks import listens_as_configured


def test_keycloak_serves_http(node, facts):
    ok, why = listens_as_configured(node, facts.listen_address, facts.http_port)
    assert ok, why


def test_keycloak_serves_health_and_metrics(node, facts):
    ok, why = listens_as_configured(node, facts.listen_address, facts.management_port)
    assert ok, why
