"""The HTML drift report: a self-contained page an auditor can match to its JSON evidence."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import jinja2
import pytest

from spbe_kit.drift import rules
from spbe_kit.drift.check import DriftReport
from spbe_kit.drift.html import render_html
from spbe_kit.drift.model import Finding, FindingKind, ObjectRef, TenantResult

HOSTILE_NAME = "<script>alert('pwned')</script>"
HOSTILE_VALUE = '"><img src=x onerror=alert(1)>'


# --- helpers shared with tests/integration/test_drift_html_browser.py -------------------------------------------------

def sample_report(drift: bool = True) -> dict:
    """A report as the evidence file holds it (JSON round trip): a drifted, a clean, an unverified and a failed tenant."""
    ns = "kab-banyuwangi"
    tenant = TenantResult(ns, "2025.1", objects_checked=31)
    if drift:
        tenant.findings = [
            Finding(FindingKind.CHANGED, ObjectRef("apps/v1", "Deployment", ns, "keycloak"), "identity",
                    "spec.template.spec.containers[name=keycloak].image", "mirror/keycloak@sha256:1", "evil@sha256:2"),
            Finding(FindingKind.CHANGED, ObjectRef("v1", "ResourceQuota", ns, "tenant-quota"), "guardrails",
                    "spec.hard", {"cpu": "8", "memory": "16Gi"}, {"cpu": "64"}, guardrail=True),
            Finding(FindingKind.CHANGED, ObjectRef("apps/v1", "Deployment", ns, "web"), "portal",
                    "spec.template.spec.securityContext.runAsNonRoot", True, None),
            Finding(FindingKind.MISSING, ObjectRef("networking.k8s.io/v1", "NetworkPolicy", ns, "default-deny"),
                    "guardrails", guardrail=True),
            Finding(FindingKind.STRAY, ObjectRef("v1", "Pod", ns, HOSTILE_NAME), "unknown",
                    actual="not defined by the baseline"),
            Finding(FindingKind.CHANGED, ObjectRef("v1", "ConfigMap", ns, "portal-config"), "portal",
                    "data.motd", "Selamat datang", HOSTILE_VALUE),
            Finding(FindingKind.SECRET_CHANGED, ObjectRef("v1", "Secret", ns, "db-credentials"), "database",
                    "data.password", "hmac-sha256:" + "a" * 64, "hmac-sha256:" + "b" * 64),
        ]
    tenant.secret_hashes = {"db-credentials": {"password": "hmac-sha256:" + "b" * 64}}
    tenants = [tenant, TenantResult("kota-surabaya", "2025.1", objects_checked=31)]
    if drift:
        tenants.append(TenantResult("prov-bali", "2025.1", objects_checked=31, findings=[
            Finding(FindingKind.UNVERIFIED, ObjectRef("v1", "Secret", "prov-bali", "db-credentials"), "database",
                    actual="not permitted to read")]))
        tenants.append(TenantResult("kab-sleman", None, error="request kab-sleman.yaml: 2 problem(s)"))
    report = DriftReport("2025-06-01T08:00:00+00:00", "spbe-local", tenants, rules.listed(), 42, 1.234,
                         "sha256:0123456789abcdef", ["kab-tanpa-permohonan"] if drift else [])
    return json.loads(json.dumps(report.to_dict()))


def evidence_digest(report: dict) -> str:
    return hashlib.sha256((json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()).hexdigest()


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(" ".join([*self.parts, *(c.text for c in self.children)]).split())

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        """Elements by tag, class and attributes (data_kind= matches data-kind)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.iter() if (tag is None or e.tag == tag)
                and (cls is None or cls in e.attrs.get("class", "").split())
                and all(e.attrs.get(k) == v for k, v in wanted.items())]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, cls, **attrs)
        assert len(found) == 1, f"expected one <{tag or '*'} class={cls} {attrs}>, found {len(found)}"
        return found[0]


class _TreeBuilder(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].parts.append(data)


def parse(html: str) -> Element:
    """The page as a tree of elements (stdlib only)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


EXTERNAL_REFERENCE = re.compile(r"""(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def external_references(html: str) -> list[str]:
    """Everything in the page that would make a browser fetch something from elsewhere."""
    found = EXTERNAL_REFERENCE.findall(html)
    found += re.findall(r"<link\b[^>]*>", html, re.I)
    found += re.findall(r"<script\b[^>]*\bsrc\b[^>]*>", html, re.I)
    found += re.findall(r"@import|@font-face|url\(", html, re.I)
    return found


# --- tests ------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def drift_page() -> tuple[dict, Element, str]:
    report = sample_report()
    html = render_html(report, evidence_digest(report))
    return report, parse(html), html


def test_a_clean_report_shows_the_clean_verdict_and_no_drift_sentence():
    report = sample_report(drift=False)
    page = parse(render_html(report, evidence_digest(report)))
    assert page.one(id="verdict").text == "clean"
    assert page.one(cls="verdict").attrs["data-verdict"] == "clean"
    assert page.one(id="summary-clean").text == "2 of 2 tenant(s) match the baseline"
    assert page.find_all(id="summary-drift") == []
    assert page.find_all(cls="finding") == []
    assert {s.attrs["data-status"] for s in page.find_all(cls="tenant")} == {"clean"}


def test_a_drift_report_shows_the_drift_verdict_and_summary_counts(drift_page):
    report, page, _ = drift_page
    assert page.one(id="verdict").text == "drift"
    assert page.one(id="summary-drift").text == "1 tenant(s) drifted, 8 finding(s)"
    counts = {d.attrs["data-count"]: d.one("dd").text for d in page.one(id="summary").find_all("div")}
    assert counts == {"tenants": "4", "clean": "1", "drifted": "1", "unverified": "1", "errors": "1",
                      "findings": "8", "apiRequests": "42", "seconds": "1.23 s"}


def test_each_tenant_has_a_section_with_status_catalog_version_and_objects_checked(drift_page):
    _, page, _ = drift_page
    sections = {s.attrs["data-tenant"]: s for s in page.find_all("section", cls="tenant")}
    assert {k: s.attrs["data-status"] for k, s in sections.items()} == {
        "kab-banyuwangi": "drift", "kota-surabaya": "clean", "prov-bali": "unverified", "kab-sleman": "error"}
    banyuwangi = sections["kab-banyuwangi"]
    assert banyuwangi.one(cls="catalog-version").text == "2025.1"
    assert banyuwangi.one(cls="objects-checked").text == "31"
    assert "request kab-sleman.yaml: 2 problem(s)" in sections["kab-sleman"].one(cls="error").text


def test_each_finding_shows_kind_in_words_object_path_expected_and_actual(drift_page):
    report, page, _ = drift_page
    rows = page.one(data_tenant="kab-banyuwangi").find_all("tr", cls="finding")
    expected_rows = report["tenants"][0]["findings"]
    assert len(rows) == len(expected_rows)
    image = rows[0]
    assert image.attrs["data-kind"] == "changed"
    assert image.one(cls="kind").text == "changed"
    assert image.one(cls="object").one("code").text == "Deployment kab-banyuwangi/keycloak"
    assert image.one(cls="path").text == "spec.template.spec.containers[name=keycloak].image"
    assert image.one(cls="expected").text == "mirror/keycloak@sha256:1"
    assert image.one(cls="actual").text == "evil@sha256:2"


def test_dict_values_are_compact_json_and_booleans_json_literals(drift_page):
    _, page, _ = drift_page
    rows = page.one(data_tenant="kab-banyuwangi").find_all("tr", cls="finding")
    assert rows[1].one(cls="expected").text == '{"cpu":"8","memory":"16Gi"}'
    assert rows[1].one(cls="actual").text == '{"cpu":"64"}'
    assert rows[2].one(cls="expected").text == "true"
    assert rows[2].one(cls="actual").text == "-"


def test_guardrail_findings_are_marked_and_others_are_not(drift_page):
    _, page, _ = drift_page
    rows = page.find_all("tr", cls="finding")
    marked = [r.one(cls="object").one("code").text for r in rows if r.attrs["data-guardrail"] == "true"]
    assert marked == ["ResourceQuota kab-banyuwangi/tenant-quota", "NetworkPolicy kab-banyuwangi/default-deny"]
    assert all(r.find_all(cls="guardrail-badge") for r in rows if "guardrail" in r.attrs["class"].split())
    assert len(page.find_all(cls="guardrail-badge")) == 2


def test_missing_stray_secret_and_unverified_findings_are_worded(drift_page):
    _, page, _ = drift_page
    words = {r.attrs["data-kind"]: r.one(cls="kind").text for r in page.find_all("tr", cls="finding")}
    assert words["missing"].startswith("missing from the cluster")
    assert words["stray"] == "not defined by the baseline"
    assert words["secret-changed"] == "credential changed since the previous report"
    assert words["unverified"] == "could not be checked"


def test_unknown_namespaces_rules_and_hash_key_fingerprint_are_listed(drift_page):
    report, page, _ = drift_page
    assert [li.text for li in page.one(id="unknown-namespaces").find_all("li")] == ["kab-tanpa-permohonan"]
    assert len(page.one(id="rules").find_all("tr", cls="rule")) == len(report["rules"]) > 0
    assert "kube-root-ca.crt" in page.one(id="rules").text
    assert page.one(id="secret-hash-key").text == "sha256:0123456789abcdef"


def test_secret_hashes_appear_only_as_keyed_hashes(drift_page):
    _, page, _ = drift_page
    hashes = page.one(data_tenant="kab-banyuwangi").one("details", cls="secret-hashes")
    assert "db-credentials password hmac-sha256:" + "b" * 64 in hashes.text


def test_the_json_digest_is_shown_near_the_top(drift_page):
    report, page, html = drift_page
    digest = evidence_digest(report)
    assert page.one(id="json-sha256").text == digest
    assert html.index(digest) < html.index('class="tenant"')


@pytest.mark.parametrize("digest", ["", "sha256:" + "a" * 64, "a" * 63, "g" * 64])
def test_anything_but_a_sha256_hex_digest_is_refused(digest):
    with pytest.raises(ValueError, match="SHA-256"):
        render_html(sample_report(), digest)


def test_bahasa_indonesia_page_has_lang_id_and_indonesian_words():
    report = sample_report()
    html = render_html(report, evidence_digest(report), "id")
    page = parse(html)
    assert page.one("html").attrs["lang"] == "id"
    assert page.one(id="verdict").text == "menyimpang"
    assert page.one(id="summary-drift").text == "1 tenant menyimpang, 8 temuan"
    assert page.one("h1").text == "Laporan penyimpangan baseline SPBE"
    for words in ("Seharusnya", "Sebenarnya", "Temuan", "Versi katalog", "SHA-256 dari bukti JSON", "pagar pengaman",
                  "tidak ada di klaster", "Namespace tenant tanpa permohonan"):
        assert words in html, words
    for english in ("Expected", "Actual", "Catalog version", "missing from the cluster"):
        assert english not in html, english


def test_english_page_has_lang_en(drift_page):
    _, page, _ = drift_page
    assert page.one("html").attrs["lang"] == "en"


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError):
        render_html(sample_report(), "0" * 64, "fr")


def test_markup_in_cluster_values_is_escaped(drift_page):
    _, page, html = drift_page
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert "<img" not in html.lower()
    assert page.find_all("img") == [] and page.find_all("script") == []
    stray = page.one("tr", cls="finding", data_kind="stray")
    assert stray.one(cls="object").one("code").text == f"Pod kab-banyuwangi/{HOSTILE_NAME}"


def test_markup_in_a_tenant_id_cannot_break_out_of_an_attribute():
    report = sample_report()
    report["tenants"][1]["tenant"] = 'x" onmouseover="alert(1)'
    page = parse(render_html(report, evidence_digest(report)))
    assert page.find_all(cls="tenant", data_tenant='x" onmouseover="alert(1)')
    assert not [e for e in page.iter() if "onmouseover" in e.attrs]


def test_the_page_references_nothing_outside_itself(drift_page):
    _, _, html = drift_page
    assert external_references(html) == []
    assert "<style>" in html


def test_the_external_reference_check_does_catch_external_references():
    for html in ('<img src="https://x.example/a.png">', "<a href='//x.example/'>", '<link rel="stylesheet" href="a.css">',
                 '<script src="a.js"></script>', "<style>@import 'x.css';</style>", "<style>b{background:url(x)}</style>"):
        assert external_references(html), html


def test_a_report_missing_a_field_fails_loudly_instead_of_rendering_blank():
    report = sample_report()
    del report["rules"]
    with pytest.raises((jinja2.UndefinedError, KeyError)):
        render_html(report, evidence_digest(report))


def test_something_other_than_a_drift_report_is_refused():
    with pytest.raises(ValueError, match="DriftReport"):
        render_html({"kind": "TenantStatus"}, "0" * 64)
