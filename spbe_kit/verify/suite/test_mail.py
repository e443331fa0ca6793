"""Mail (Postfix + Dovecot): listening, submission only over TLS with a login, IMAP only over TLS, private keys."""

import re

from spbe_kit.verify.suite.checks import listens_as_configured, private


def _postconf(node, facts, *args: str) -> str:
    result = node.run("postconf -c %s " + " ".join(["%s"] * len(args)), facts.postfix_config_dir, *args)
    assert result.rc == 0, f"postconf failed: {result.stderr.strip()[:200]}"
    return result.stdout


def _doveconf(node, facts, name: str) -> str:
    result = node.run("doveconf -c %s -h %s", f"{facts.dovecot_config_dir}/dovecot.conf", name)
    assert result.rc == 0, f"doveconf failed: {result.stderr.strip()[:200]}"
    return result.stdout.strip()


def test_smtp_submission_and_imaps_listen(node, facts):
    for port in (facts.smtp_port, facts.submission_port, facts.imaps_port):
        ok, why = listens_as_configured(node, facts.listen_address, port)
        assert ok, why


def test_submission_requires_tls_and_a_login(node, facts):
    master = _postconf(node, facts, "-P")
    for setting in ("smtpd_tls_security_level = encrypt", "smtpd_sasl_auth_enable = yes", "smtpd_tls_auth_only = yes"):
        assert re.search(rf"(^|:){facts.submission_port}/inet/{re.escape(setting)}$", master, re.M), \
            f"the submission service (port {facts.submission_port}) lacks `{setting}` in master.cf"


def _tokens(value: str) -> list[str]:
    return [t for t in re.split(r"[\s,]+", value.strip()) if t]


def test_postfix_is_not_an_open_relay(node, facts):
    networks = _tokens(_postconf(node, facts, "-h", "mynetworks"))
    broad = [n for n in networks if "/" in n and int(n.rsplit("/", 1)[1]) < 24]
    assert not broad, f"mynetworks trusts {', '.join(broad)}: anyone there may relay without a login"
    main = {name: _postconf(node, facts, "-h", name).strip()
            for name in ("smtpd_relay_restrictions", "smtpd_recipient_restrictions")}
    overrides: dict[tuple[str, str], str] = {}
    for line in _postconf(node, facts, "-P").splitlines():
        service, _, value = line.partition(" = ")
        parts = service.split("/")
        if len(parts) == 3 and parts[1] == "inet":
            overrides[(parts[0].rsplit(":", 1)[-1], parts[2])] = value
    for port in {key[0] for key in overrides} | {str(facts.smtp_port)}:
        relay = _tokens(overrides.get((port, "smtpd_relay_restrictions"), main["smtpd_relay_restrictions"]))
        recipient = _tokens(overrides.get((port, "smtpd_recipient_restrictions"), main["smtpd_recipient_restrictions"]))
        for name, rules in (("smtpd_relay_restrictions", relay), ("smtpd_recipient_restrictions", recipient)):
            assert "permit" not in rules, f"port {port}: {name} has a bare `permit`: mail to anywhere is accepted"
        guard = [r for r in relay if r in ("reject_unauth_destination", "defer_unauth_destination", "reject")]
        assert guard, f"port {port}: smtpd_relay_restrictions = {' '.join(relay)} never refuses unauthorised relaying"


def test_dovecot_requires_tls_for_every_login(node, facts):
    assert _doveconf(node, facts, "ssl") == "required", "Dovecot's ssl is not `required`"
    assert _doveconf(node, facts, "disable_plaintext_auth") == "yes", "Dovecot allows plaintext logins"


def test_dkim_and_tls_keys_are_private(node, facts):
    ok, why = private(node, facts.dkim_key_file, 0o600)
    assert ok, why
    ok, why = private(node, facts.tls_key_file, 0o640)
    assert ok, why


def test_mailbox_password_hashes_are_not_world_readable(node, facts):
    ok, why = private(node, facts.users_file, 0o640)
    assert ok, why
