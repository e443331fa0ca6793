"""`spbe verify` against a whole tenant running on this machine (real PostgreSQL, Keycloak, Postfix/Dovecot,
Prometheus), configured by the roles: it passes, and each kind of breakage fails exactly its check."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from spbe_kit.verify.run import suite_checks

def spbe_verify(targets: Path, *args: str, tenant: str = "kab-banyuwangi") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spbe_kit", "verify", tenant, "--targets", str(targets), *args],
                          capture_output=True, text=True, timeout=600)


def _statuses(proc) -> dict[tuple[str, str], str]:
    return {(r["component"], r["check"]): r["status"] for r in json.loads(proc.stdout)["results"]}


def _checks_in_suite() -> int:
    """Every check of the components run here; e-office's run against the Mayan image in tests/images."""
    return sum(len(checks) for component, checks in suite_checks().items() if component != "eoffice")


def test_a_configured_tenant_verifies_with_every_check_run(local_tenant):
    proc = spbe_verify(local_tenant.write(), "-o", "json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["verified"] and report["counts"]["pass"] == _checks_in_suite()  # nothing skipped or left out
    assert {r["component"] for r in report["results"]} == {"database", "identity", "mail", "monitoring"}


@pytest.mark.parametrize("breakage, component, check", [
    ("hba_world_readable", "database", "pg hba is private to postgres"),
    ("backup_three_days_old", "database", "backup present and recent"),
    ("dkim_key_group_readable", "mail", "dkim and tls keys are private"),
    ("smtp_port_relays_anywhere", "mail", "postfix is not an open relay"),
])
def test_each_breakage_fails_exactly_its_check(local_tenant, breakage, component, check):
    paths = local_tenant.paths
    restore = []
    if breakage == "hba_world_readable":
        mode = paths["hba"].stat().st_mode
        paths["hba"].chmod(0o644)
        restore.append(lambda: paths["hba"].chmod(mode))
    elif breakage == "backup_three_days_old":
        stat = paths["dump"].stat()
        old = time.time() - 3 * 86400
        os.utime(paths["dump"], (old, old))
        restore.append(lambda: os.utime(paths["dump"], (stat.st_atime, stat.st_mtime)))
    elif breakage == "dkim_key_group_readable":
        paths["dkim"].chmod(0o640)
        restore.append(lambda: paths["dkim"].chmod(0o600))
    elif breakage == "smtp_port_relays_anywhere":
        text = paths["master_cf"].read_text()
        smtp = f":{local_tenant.targets['targets']['mail']['facts']['smtp_port']}  inet"
        lines = text.splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if smtp in line)
        lines.insert(at + 1, "  -o smtpd_relay_restrictions=permit_mynetworks,permit\n")
        paths["master_cf"].write_text("".join(lines))
        restore.append(lambda: paths["master_cf"].write_text(text))
    try:
        proc = spbe_verify(local_tenant.write(), "-o", "json")
    finally:
        for undo in restore:
            undo()
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    failed = {key for key, status in _statuses(proc).items() if status != "pass"}
    assert failed == {(component, check)}


def test_a_check_that_cannot_run_is_unverified_not_passed(local_tenant):
    targets = copy.deepcopy(local_tenant.targets)
    del targets["targets"]["database"]["facts"]["backup_dir"]  # and no backup job time either
    proc = spbe_verify(local_tenant.write(targets), "-o", "json")
    assert proc.returncode == 1
    statuses = _statuses(proc)
    assert statuses[("database", "backup present and recent")] == "unverified"
    assert list(statuses.values()).count("pass") == _checks_in_suite() - 1


def test_junit_and_table_reports(local_tenant):
    junit = spbe_verify(local_tenant.write(), "-o", "junit")
    assert junit.returncode == 0, junit.stdout[-2000:]
    suite = ET.fromstring(junit.stdout)
    assert suite.get("failures") == "0" and int(suite.get("tests")) == _checks_in_suite()
    assert {c.get("classname") for c in suite.iter("testcase")} >= {"kab-banyuwangi.mail", "kab-banyuwangi.identity"}
    table = spbe_verify(local_tenant.write(), "-o", "table")
    assert table.returncode == 0 and "kab-banyuwangi: verified" in table.stdout
    assert re.search(r"^mail\s+submission requires tls and a login\s+ok$", table.stdout, re.M)


def test_a_targets_file_for_another_tenant_is_refused(local_tenant):
    proc = spbe_verify(local_tenant.write(), tenant="kota-surabaya")
    assert proc.returncode == 2 and "describes tenant 'kab-banyuwangi'" in proc.stderr


def test_no_secret_reaches_the_report(local_tenant):
    hba = local_tenant.paths["hba"]
    mode = hba.stat().st_mode
    hba.chmod(0o644)  # a failing check: its detail is in the report too
    try:
        proc = spbe_verify(local_tenant.write(), "-o", "json")
    finally:
        hba.chmod(mode)
    assert proc.returncode == 1 and len(local_tenant.secrets) >= 5
    assert all(value not in proc.stdout + proc.stderr for value in local_tenant.secrets)
