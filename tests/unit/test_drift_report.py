"""Drift report formats (text, JUnit, evidence) and the bilingual message catalogue."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET

from spbe_kit.drift.check import DriftReport
from spbe_kit.drift.messages import MESSAGES, Lang
from spbe_kit.drift.model import Finding, FindingKind, ObjectRef, TenantResult
from spbe_kit.drift.report import as_junit, as_text, write_evidence


def _report() -> dict:
    drifted = TenantResult("kab-banyuwangi", "2026.11", 61, [
        Finding(FindingKind.CHANGED, ObjectRef("apps/v1", "Deployment", "kab-banyuwangi", "identity"), "identity",
                "spec.replicas", 2, 5),
        Finding(FindingKind.MISSING, ObjectRef("networking.k8s.io/v1", "NetworkPolicy", "kab-banyuwangi", "default-deny"),
                "guardrails", guardrail=True),
    ])
    clean = TenantResult("kota-bandung", "2026.11", 50)
    broken = TenantResult("kab-x", None, error="request kab-x.yaml is invalid: spec.tier: not allowed")
    report = DriftReport("2026-11-23T10:00:00+00:00", "https://127.0.0.1:16443", [drifted, clean, broken], [],
                         19, 0.5, "sha256:0011", ["kab-stray"])
    return json.loads(json.dumps(report.to_dict()))


def test_every_message_exists_in_both_languages_with_the_same_placeholders():
    import string

    from spbe_kit.drift.words import en, id as id_

    assert set(en.WORDS) == set(id_.WORDS), set(en.WORDS) ^ set(id_.WORDS)
    fields = lambda text: sorted(f for _, f, _, _ in string.Formatter().parse(text) if f)  # noqa: E731
    for key in en.WORDS:
        assert en.WORDS[key] and id_.WORDS[key], key
        assert fields(en.WORDS[key]) == fields(id_.WORDS[key]), key
    assert all(set(v) == set(Lang) and all(v.values()) for v in MESSAGES.values())


def test_the_kits_own_phrases_and_rule_reasons_are_translated_not_only_the_labels():
    from spbe_kit.drift import rules
    from spbe_kit.drift.html import render_html
    from spbe_kit.drift.model import Phrase
    from spbe_kit.drift.words.id import WORDS as ID

    report = _report()
    report["tenants"][0]["findings"].append(Finding(
        FindingKind.CHANGED, ObjectRef("v1", "Secret", "kab-banyuwangi", "identity-admin"), "identity", "data.password",
        Phrase("value.generated"), Phrase("value.absent-or-empty")).to_dict())
    report["rules"] = rules.listed()
    finding = report["tenants"][0]["findings"][-1]
    assert finding["expected"] == "a generated value"  # the evidence keeps English text ...
    assert finding["expectedPhrase"] == {"key": "value.generated", "params": {}}  # ... and the key
    text = as_text(report, Lang.ID)
    assert f"Seharusnya: {ID['value.generated']}" in text and f"Sebenarnya: {ID['value.absent-or-empty']}" in text
    assert "a generated value" not in text and "absent or empty" not in text
    page = render_html(report, "0" * 64, "id")
    assert ID["rule.pulumi-annotations"] in page and ID["rule.owned-objects"] in page
    for english in ("written by the Pulumi provider", "a generated value", "compared whole"):
        assert english not in page


def test_text_names_each_finding_with_expected_and_actual_in_either_language():
    text = as_text(_report())
    assert "Deployment kab-banyuwangi/identity spec.replicas: changed" in text
    assert "Expected: 2" in text and "Actual: 5" in text and "[guardrail]" in text
    assert "1 of 3 tenant(s) match the baseline" in text and "kab-stray" in text
    indonesian = as_text(_report(), Lang.ID)
    assert "tidak ada di klaster [pagar pengaman]" in indonesian and "Seharusnya: 2" in indonesian


def test_junit_is_valid_xml_with_a_failure_per_finding_and_an_error_per_broken_tenant():
    root = ET.fromstring(as_junit(_report()))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["kab-banyuwangi"].get("failures") == "2" and len(suites["kab-banyuwangi"].findall("testcase/failure")) == 2
    assert suites["kota-bandung"].get("failures") == "0" and suites["kota-bandung"].find("testcase") is not None
    assert suites["kab-x"].find("testcase/error") is not None


def test_evidence_files_are_linked_by_the_digest(tmp_path):
    json_path, html_path, digest = write_evidence(_report(), tmp_path)
    assert hashlib.sha256(json_path.read_bytes()).hexdigest() == digest
    assert digest in html_path.read_text()
    assert (tmp_path / (json_path.name + ".sha256")).read_text().split()[0] == digest
    assert json_path.name == "drift-20261123T100000Z.json"
