"""Identity (Keycloak): the HTTP and management ports are served."""

from spbe_kit.verify.suite.checks import listens_as_configured


def test_keycloak_serves_http(node, facts):
    ok, why = listens_as_configured(node, facts.listen_address, facts.http_port)
    assert ok, why


def test_keycloak_serves_health_and_metrics(node, facts):
    ok, why = listens_as_configured(node, facts.listen_address, facts.management_port)
    assert ok, why


def test_the_tenants_realm_publishes_its_oidc_configuration(node, facts):
    """Through the HTTP port from inside the host: the realm exists (the role ran) and names itself as issuer."""
    address = "127.0.0.1" if facts.listen_address == "0.0.0.0" else facts.listen_address
    request = (f"GET /realms/{facts.realm}/.well-known/openid-configuration HTTP/1.0\\r\\n"
               f"Host: {address}\\r\\nConnection: close\\r\\n\\r\\n")
    result = node.run("bash -c %s", f"exec 3<>/dev/tcp/{address}/{facts.http_port} && printf '{request}' >&3 && cat <&3")
    assert result.rc == 0, f"no answer from {address}:{facts.http_port}: {result.stderr.strip()[:200]}"
    status = result.stdout.split("\r\n", 1)[0]
    assert " 200 " in status + " ", f"realm {facts.realm}: {status or 'no HTTP answer'} (has the identity role run?)"
    assert f'/realms/{facts.realm}"' in result.stdout, f"realm {facts.realm} does not name itself as the issuer"
