"""The spbe_mail role against real Postfix and Dovecot (Debian's): the domain, aliases, TLS-only submission, DKIM."""

from __future__ import annotations

import base64
import imaplib
import re
import smtplib
import ssl
import stat
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from .ansible_run import run_playbook

DOMAIN = "banyuwangikab.go.id"


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test certificate is self-signed
    return context


def _box(host, name):
    return next(b for b in host.variables["spbe_mail_mailboxes"] if b["name"] == name)


def test_check_mode_on_a_new_host_then_two_runs_converge(mail_host):
    _, (check, first, second), untouched = mail_host
    assert check.rc == 0, check.output[-3000:]
    assert untouched, "check mode wrote the Postfix configuration"
    assert first.rc == 0 and first.changed > 0, first.output[-3000:]
    assert second.rc == 0 and second.changed == 0, second.output[-3000:]


def test_submission_without_tls_is_refused_and_offers_no_login(mail_host):
    host, _, _ = mail_host
    with smtplib.SMTP("127.0.0.1", host.submission_port, timeout=10) as smtp:
        code, features = smtp.ehlo("client.test")
        assert code == 250 and b"STARTTLS" in features and b"AUTH" not in features
        code, message = smtp.mail(f"aptika@{DOMAIN}")
        assert code == 530 and b"STARTTLS" in message
        with pytest.raises(smtplib.SMTPNotSupportedError):
            smtp.login(f"aptika@{DOMAIN}", _box(host, "aptika")["password"])


def test_submission_over_tls_delivers_postmaster_mail_to_the_recipients_mailbox(mail_host):
    host, _, _ = mail_host
    sekda, aptika = _box(host, "sekda"), _box(host, "aptika")
    subject = f"uji-{time.monotonic_ns()}"
    with smtplib.SMTP("127.0.0.1", host.submission_port, timeout=10) as smtp:
        smtp.starttls(context=_tls())
        smtp.login(f"sekda@{DOMAIN}", sekda["password"])
        refused = smtp.sendmail(f"sekda@{DOMAIN}", [f"postmaster@{DOMAIN}", f"abuse@{DOMAIN}"],
                                f"From: sekda@{DOMAIN}\r\nSubject: {subject}\r\n\r\nuji\r\n")
        assert refused == {}
    with imaplib.IMAP4_SSL("127.0.0.1", host.imaps_port, ssl_context=_tls(), timeout=10) as imap:
        imap.login(f"aptika@{DOMAIN}", aptika["password"])
        found = []
        for _ in range(50):  # delivery is asynchronous (queue manager → LMTP)
            imap.select("INBOX")
            _, data = imap.search(None, "SUBJECT", subject)
            found = data[0].split()
            if found:
                break
            time.sleep(0.2)
        assert len(found) == 1  # postmaster and abuse both go to aptika: one copy, deduplicated by Postfix


def test_a_logged_in_user_cannot_send_as_someone_else(mail_host):
    host, _, _ = mail_host
    with smtplib.SMTP("127.0.0.1", host.submission_port, timeout=10) as smtp:
        smtp.starttls(context=_tls())
        smtp.login(f"sekda@{DOMAIN}", _box(host, "sekda")["password"])
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail(f"aptika@{DOMAIN}", [f"aptika@{DOMAIN}"], "Subject: palsu\r\n\r\nx\r\n")
        assert b"not owned by user" in next(iter(refused.value.recipients.values()))[1]


def test_port_25_accepts_the_domain_but_does_not_relay(mail_host):
    host, _, _ = mail_host
    with smtplib.SMTP("127.0.0.1", host.smtp_port, timeout=10) as smtp:
        smtp.ehlo("relay.example.org")
        assert smtp.mail("someone@example.org")[0] == 250
        assert smtp.rcpt("victim@example.com")[0] == 554  # Relay access denied
        assert smtp.rcpt(f"nobody-here@{DOMAIN}")[0] == 550  # unknown mailbox
        assert smtp.rcpt(f"abuse@{DOMAIN}")[0] == 250


def test_imap_refuses_logins_without_tls_and_wrong_passwords(mail_host):
    host, _, _ = mail_host
    with imaplib.IMAP4_SSL("127.0.0.1", host.imaps_port, ssl_context=_tls(), timeout=10) as imap:
        with pytest.raises(imaplib.IMAP4.error):
            imap.login(f"aptika@{DOMAIN}", "w" * 20)
    with pytest.raises((ssl.SSLError, OSError, imaplib.IMAP4.abort)):
        with imaplib.IMAP4("127.0.0.1", host.imaps_port, timeout=5) as plain:  # plaintext on the TLS port
            plain.login(f"aptika@{DOMAIN}", _box(host, "aptika")["password"])


def test_dkim_key_is_private_and_the_printed_record_is_its_public_key(mail_host):
    host, (_, first, _), _ = mail_host
    key_path = Path(host.variables["spbe_mail_dkim_dir"]) / "spbe2026.private"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    expected = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    records = Path(host.variables["spbe_mail_dns_records_file"]).read_text()
    dkim = next(line for line in records.splitlines() if line.startswith(f"spbe2026._domainkey.{DOMAIN}. "))
    strings = re.findall(r'"([^"]*)"', dkim)
    assert all(len(s) <= 255 for s in strings)  # DNS TXT character-string limit
    assert "".join(strings[1:]) == expected and strings[0] == "v=DKIM1; k=rsa; p="
    assert f"{DOMAIN}. 3600 IN MX 10 mail.{DOMAIN}." in records and f"_dmarc.{DOMAIN}." in records
    assert f"{DOMAIN}. 3600 IN TXT \"v=DMARC1; p=none;" in records  # nothing signs yet: no quarantine
    assert expected[40:240] in first.output  # printed for the pemda, not applied (the first 40 are any RSA key's header)


def test_secrets_never_reach_the_output_and_hashes_stay_private(mail_host):
    host, runs, _ = mail_host
    for run in runs:
        for box in host.variables["spbe_mail_mailboxes"]:
            assert box["password"] not in run.output
    users = Path(host.variables["spbe_mail_dovecot_config_dir"]) / "users"
    assert stat.S_IMODE(users.stat().st_mode) == 0o640
    assert all(box["password"] not in users.read_text() for box in host.variables["spbe_mail_mailboxes"])


def test_missing_tls_material_fails_before_anything_is_written(mail_host, tmp_path):
    host, _, _ = mail_host
    bad = dict(host.variables, spbe_mail_tls_cert_file=str(tmp_path / "absent.crt"),
               spbe_mail_postfix_config_dir=str(tmp_path / "postfix"), spbe_mail_manage_services=False)
    result = run_playbook("mail.yml", bad, tmp_path)
    assert result.rc != 0 and "absent.crt" in result.output and not (tmp_path / "postfix").exists()


def test_a_short_mailbox_password_is_refused_without_echoing_it(mail_host, tmp_path):
    host, _, _ = mail_host
    bad = dict(host.variables, spbe_mail_mailboxes=[{"name": "kadis", "password": "pendek-123"}],
               spbe_mail_postfix_config_dir=str(tmp_path / "postfix"), spbe_mail_manage_services=False)
    result = run_playbook("mail.yml", bad, tmp_path)
    assert result.rc != 0 and "pendek-123" not in result.output and not (tmp_path / "postfix").exists()


def test_postmaster_mail_to_an_address_without_a_mailbox_is_refused_up_front(mail_host, tmp_path):
    host, _, _ = mail_host
    bad = dict(host.variables, spbe_mail_postmaster_recipients=[f"kominfo@{DOMAIN}", "csirt@example.org"],
               spbe_mail_postfix_config_dir=str(tmp_path / "postfix"), spbe_mail_manage_services=False)
    result = run_playbook("mail.yml", bad, tmp_path)
    assert result.rc != 0 and f"kominfo@{DOMAIN} in {DOMAIN} has no mailbox or alias" in result.output
    assert "csirt@example.org" not in result.output.split("has no mailbox")[0].split("msg")[-1]
    assert not (tmp_path / "postfix").exists()


def test_trusting_a_wide_network_is_refused(mail_host, tmp_path):
    host, _, _ = mail_host
    bad = dict(host.variables, spbe_mail_trusted_networks=["10.244.0.0/16"],
               spbe_mail_postfix_config_dir=str(tmp_path / "postfix"), spbe_mail_manage_services=False)
    result = run_playbook("mail.yml", bad, tmp_path)
    assert result.rc != 0 and "open relay" in result.output and not (tmp_path / "postfix").exists()
