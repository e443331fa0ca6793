"""E-office: its configuration is private and wired to the tenant's identity, a TLS database and STARTTLS mail."""

from spbe_kit.verify.suite.checks import private


def test_configuration_is_private(node, facts):
    ok, why = private(node, facts.config_file, 0o640)
    assert ok, why


def test_configuration_trusts_the_tenants_realm(node, facts):
    assert node.file(facts.config_file).contains(f"^EOFFICE_OIDC_ISSUER={facts.oidc_issuer}$"), \
        f"{facts.config_file} does not name the issuer {facts.oidc_issuer}"


def test_database_and_mail_connections_use_tls(node, facts):
    config = node.file(facts.config_file)
    assert config.contains("^EOFFICE_DB_SSLMODE=require$"), "the database connection does not require TLS"
    assert config.contains("^EOFFICE_SMTP_STARTTLS=true$"), "mail is sent without STARTTLS"


def test_mail_is_sent_with_a_login_when_the_tenant_has_mail(node, facts):
    if not facts.smtp_user:
        import pytest

        pytest.skip("no SMTP login expected: e-office relays through the pemda's own server")
    assert node.file(facts.config_file).contains(f"^EOFFICE_SMTP_USER={facts.smtp_user}$"), \
        f"e-office does not log in as {facts.smtp_user}: the tenant's submission refuses anonymous senders"
