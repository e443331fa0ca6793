"""`spbe verify` without services: targets from the desired state, targets files, report semantics."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from spbe_kit.desired.network import PORT
from spbe_kit.errors import SpbeError
from spbe_kit.roles import role_vars
from spbe_kit.verify.report import as_json, as_junit, as_table
from spbe_kit.verify.run import CheckResult, VerifyReport, _parse_junit
from spbe_kit.verify.targets import load_targets, production_targets

ALL = ("database", "identity", "mail", "monitoring", "eoffice")


def test_production_facts_come_from_the_desired_state_and_the_roles():
    from spbe_kit.catalog import load_catalog
    from spbe_kit.desired import desired_state
    from spbe_kit.request import load_request
    from tests.conftest import ROOT

    banyuwangi = desired_state(load_request(ROOT / "examples" / "kab-banyuwangi.yaml"), load_catalog())
    targets = production_targets(banyuwangi, {c: f"kubectl://{c}-0?namespace=kab-banyuwangi" for c in ALL},
                                 last_backup="2026-11-23T01:00:00+00:00")
    t = targets.targets
    assert set(t) == set(ALL)
    assert t["database"].facts.port == PORT["database"]
    # the desired state's pg_hba (a root-owned ConfigMap file the server is pointed at), the server key in PGDATA
    assert (t["database"].facts.hba_file, t["database"].facts.hba_owner) == ("/etc/spbe-postgres/pg_hba.conf", "root")
    assert t["database"].facts.server_key == "/var/lib/postgresql/data/pgdata/server.key"
    assert t["database"].facts.backup_last_success == "2026-11-23T01:00:00+00:00"
    assert (t["mail"].facts.submission_port, t["mail"].facts.imaps_port) == (PORT["mail-submission"], PORT["mail-imaps"])
    # the baseline mail image generates its configuration at start under /run/spbe-mail (no role runs in the pod)
    assert (t["mail"].facts.postfix_config_dir, t["mail"].facts.users_file) == \
        ("/run/spbe-mail/postfix", "/run/spbe-mail/users")
    # the rules the desired state mounts (a read-only ConfigMap), not a path only the role writes outside Kubernetes
    assert t["monitoring"].facts.rules_file == "/etc/prometheus-rules/baseline.yml"
    assert t["monitoring"].facts.port == PORT["prometheus"] and t["monitoring"].facts.tenant == "kab-banyuwangi"
    assert t["eoffice"].facts.oidc_issuer == "https://sso.banyuwangikab.go.id/realms/kab-banyuwangi"
    assert t["identity"].facts.management_port == PORT["identity-management"] and t["identity"].facts.realm == "kab-banyuwangi"
    assert t["eoffice"].facts.smtp_user == "noreply@banyuwangikab.go.id"  # the tenant has mail: e-office logs in


def test_eoffice_facts_are_what_the_pod_runs_and_what_the_role_promises(banyuwangi):
    targets = production_targets(banyuwangi, {c: f"kubectl://{c}-0?namespace=kab-banyuwangi" for c in ALL})
    facts = targets.targets["eoffice"].facts
    assert (facts.smtp_host, facts.smtp_port) == ("mail", 587) and not targets.unchecked
    assert facts.python == "/opt/mayan/bin/python"
    assert facts.oidc_backend.endswith("authentication_oidc.authentication_backends.AuthenticationBackendOIDC")
    baseline = json.loads(facts.baseline)
    model = role_vars("spbe_eoffice")
    assert set(baseline["document_types"]) == {d["label"] for d in model["spbe_eoffice_baseline_document_types"]}
    assert baseline["document_types"]["Surat Masuk"]["pengirim"] is True
    assert baseline["workflows"]["disposisi_surat_masuk"]["initial"] == ["Diterima"]
    assert "Didisposisikan -> Ditindaklanjuti" in baseline["workflows"]["disposisi_surat_masuk"]["transitions"]


def test_components_without_a_pod_get_no_target(banyuwangi):
    targets = production_targets(banyuwangi, {"mail": "kubectl://mail-0?namespace=kab-banyuwangi"})
    assert set(targets.targets) == {"mail"}


@pytest.mark.parametrize("body, message", [
    ({"tenant": "t", "targets": {"dns": {"host": "local://"}}}, "unknown component 'dns'"),
    ({"tenant": "t", "targets": {"identity": {"host": "local://", "facts": {"realm": "t", "http_port": 8080}}}},
     "targets.identity.facts: missing management_port"),
    ({"tenant": "t", "targets": {"identity": {"host": "local://",
                                              "facts": {"realm": "t", "http_port": "8080", "management_port": 9000}}}},
     "targets.identity.facts.http_port: expected int, got str"),
    ({"tenant": "t", "targets": {"eoffice": {"host": "local://",
                                             "facts": {"python": "/x", "oidc_issuer": "y", "colour": 1}}}},
     "unknown field(s) colour"),
    ({"tenant": "t", "targets": {"eoffice": {"facts": {}}}}, "targets.eoffice: needs `host`"),
    ({"targets": {}}, "expected a mapping with `tenant` and `targets`"),
])
def test_targets_file_problems_name_the_field(tmp_path, body, message):
    path = tmp_path / "targets.yaml"
    path.write_text(json.dumps(body))
    with pytest.raises(SpbeError) as error:
        load_targets(path)
    assert message in str(error.value)


def test_a_skipped_or_missing_check_is_never_verified():
    passing = CheckResult("mail", "x", "pass")
    assert VerifyReport("t", [passing]).verified
    assert not VerifyReport("t", []).verified
    assert not VerifyReport("t", [passing, CheckResult("database", "backup", "unverified", "none")]).verified
    assert not VerifyReport("t", [passing, CheckResult("mail", "y", "error", "kubectl failed")]).verified


def test_reports_carry_every_status():
    report = VerifyReport("kab-x", [CheckResult("database", "a", "pass"), CheckResult("database", "b", "fail", "why"),
                                    CheckResult("mail", "c", "unverified", "no pod"),
                                    CheckResult("mail", "d", "error", "unreachable")], 1.5)
    suite = ET.fromstring(as_junit(report))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "1", "1", "1")
    assert json.loads(as_json(report))["counts"] == {"pass": 1, "fail": 1, "unverified": 1, "error": 1}
    table = as_table(report)
    assert "kab-x: NOT verified" in table and "UNVERIFIED" in table and "why" in table


def test_pytest_junit_is_read_per_component(tmp_path):
    from spbe_kit.verify.targets import Targets

    junit = tmp_path / "j.xml"
    junit.write_text("""<testsuites><testsuite>
      <testcase classname="spbe_kit.verify.suite.test_mail" name="test_dovecot_requires_tls_for_every_login"/>
      <testcase classname="spbe_kit.verify.suite.test_database" name="test_server_key_is_private">
        <failure message="AssertionError: /k has mode 0644, expected 0600&#10;assert False">tb</failure></testcase>
      <testcase classname="spbe_kit.verify.suite.test_database" name="test_backup_present_and_recent">
        <skipped message="no backup found"/></testcase>
      <testcase classname="spbe_kit.verify.suite.test_mail" name="test_smtp_submission_and_imaps_listen">
        <error message="failed on setup with &quot;RuntimeError: kubectl exec failed&quot;"/></testcase>
    </testsuite></testsuites>""")
    results = _parse_junit(junit, Targets("t", {}))
    assert [(r.component, r.check, r.status, r.detail) for r in results] == [
        ("mail", "dovecot requires tls for every login", "pass", ""),
        ("database", "server key is private", "fail", "/k has mode 0644, expected 0600"),
        ("database", "backup present and recent", "unverified", "no backup found"),
        ("mail", "smtp submission and imaps listen", "error", 'failed on setup with "RuntimeError: kubectl exec failed"'),
    ]


def test_a_check_without_a_result_is_an_error():
    from spbe_kit.verify.run import _missing_checks, suite_checks
    from spbe_kit.verify.targets import IdentityFacts, Target, Targets

    targets = Targets("t", {"identity": Target("identity", "local://", IdentityFacts("t", 8080, 9000))})
    checks = suite_checks()["identity"]
    assert len(checks) >= 3
    present = [CheckResult("identity", checks[0], "pass")]
    missing = _missing_checks(present, targets)
    assert {(m.check, m.status) for m in missing} == {(c, "error") for c in checks[1:]}


def test_the_callers_pytest_options_cannot_select_checks(monkeypatch):
    """PYTEST_ADDOPTS=-k would otherwise deselect the failing checks and report 'verified'."""
    from spbe_kit.verify.run import run_suite, suite_checks
    from spbe_kit.verify.targets import IdentityFacts, Target, Targets

    monkeypatch.setenv("PYTEST_ADDOPTS", "-k serves_http")
    report = run_suite(Targets("t", {"identity": Target("identity", "local://", IdentityFacts("t", 1, 2, "127.0.0.1"))}))
    assert not report.verified and report.counts()["pass"] == 0
    assert {r.check for r in report.results} == set(suite_checks()["identity"])
