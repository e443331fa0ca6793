"""E-office (Mayan EDMS): TLS to its database, login through the tenant's realm, STARTTLS mail with the
noreply login, the correspondence baseline in place, and no installer password left behind.

The facts are read inside the e-office container by Mayan's own Python (`mayan_facts.py`): the
settings Mayan really runs with, not the manifest that was meant to give them."""

import json
import shlex
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("mayan_facts.py")
MARKER = "SPBE-FACTS "


@pytest.fixture(scope="module")
def mayan(node, facts):
    command = f"cd /tmp && {shlex.quote(facts.python)} -c {shlex.quote(PROBE.read_text())}"
    result = node.run(command)
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    if result.rc != 0 or not lines:
        raise RuntimeError(f"cannot read Mayan's settings in the container (exit {result.rc}): "
                           f"{(result.stderr or result.stdout).strip()[-300:]}")
    return json.loads(lines[-1][len(MARKER):])


def test_database_connection_is_encrypted(mayan):
    db = mayan["database"]
    assert db["sslmode"] == "require", f"Mayan connects with sslmode={db['sslmode'] or 'unset'}, not require"
    assert db["ssl_in_use"], "the database reports Mayan's own connection as unencrypted"


def test_login_goes_through_the_tenants_realm(mayan, facts):
    oidc = mayan["oidc"]
    assert oidc["backend"] == facts.oidc_backend, f"Mayan logs in with {oidc['backend']}, not OpenID Connect"
    assert oidc["client_id"] == "eoffice" and oidc["sign_algo"] == "RS256", \
        f"client {oidc['client_id']!r} with {oidc['sign_algo']!r} tokens, not eoffice with RS256"
    assert oidc["issuer"] == facts.oidc_issuer, \
        oidc["why"] or f"Mayan trusts the issuer {oidc['issuer']}, not {facts.oidc_issuer}"


def test_mail_is_sent_with_starttls_and_the_expected_login(mayan, facts):
    email = mayan["email"]
    assert email["use_tls"] and not email["use_ssl"], "mail is not sent with STARTTLS"
    assert (email["host"], email["port"]) == (facts.smtp_host, facts.smtp_port), \
        f"mail goes to {email['host']}:{email['port']}, not {facts.smtp_host}:{facts.smtp_port}"
    if facts.smtp_user:
        assert email["user"] == facts.smtp_user and email["has_password"], \
            f"e-office does not log in as {facts.smtp_user}: the tenant's submission refuses anonymous senders"
    else:
        assert not email["user"], f"e-office logs in as {email['user']} to the pemda's relay, which expects none"


def test_correspondence_baseline_is_in_place(mayan, facts):
    baseline = json.loads(facts.baseline)
    problems = []
    for label, metadata in baseline["document_types"].items():
        have = mayan["document_types"].get(label)
        if have is None:
            problems.append(f"document type {label} is missing")
            continue
        for name, required in metadata.items():
            if name not in have:
                problems.append(f"{label} lacks the metadata {name}")
            elif have[name] != required:
                problems.append(f"{label}: {name} is {'optional' if required else 'required'}")
    for name, wanted in baseline["workflows"].items():
        have = mayan["workflows"].get(name)
        if have is None:
            problems.append(f"workflow {name} is missing")
            continue
        problems += [f"workflow {name}: {what} differ" for what in ("states", "initial", "transitions")
                     if sorted(have[what]) != sorted(wanted[what])]
        problems += [f"workflow {name} is not launched for {label}"
                     for label in wanted["document_types"] if label not in have["document_types"]]
    assert not problems, "; ".join(problems)


def test_installer_password_is_not_kept(mayan):
    assert not mayan["installer_password_kept"], \
        "Mayan keeps the installer's administrator password in plain text and shows it on its login page"
