"""The drift report as one self-contained HTML page for auditors, linked to its JSON evidence by SHA-256.

The page is rendered from the report dict (`DriftReport.to_dict()`, possibly read back from an
evidence file), never from live objects. Everything in it that came from the cluster is
untrusted, so the template autoescapes; the page loads nothing from anywhere (inline CSS, no
scripts, no fonts, no images), so it reads the same offline, years later, in an archive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from spbe_kit.drift.messages import MESSAGES, Lang, finding_text, finding_value, rule_reason, rule_target, t

_ENV = Environment(
    loader=PackageLoader("spbe_kit", "templates"),
    undefined=StrictUndefined,
    autoescape=True,  # object names and values come from the cluster: untrusted
    trim_blocks=True,
    lstrip_blocks=True,
)

_SHA256 = re.compile(r"[0-9a-f]{64}")

@dataclass(frozen=True)
class FindingRow:
    """One finding as shown: words for the kind, the object as `Kind namespace/name`, values as text."""

    kind: str
    kind_text: str
    object: str
    component: str
    path: str
    expected: str | None
    actual: str | None
    guardrail: bool


@dataclass(frozen=True)
class TenantSection:
    """One tenant as shown."""

    tenant: str
    status: str
    status_text: str
    catalog_version: str
    objects_checked: int
    error: str | None
    findings: list[FindingRow]
    secret_hashes: list[tuple[str, str, str]]  # (secret, key, keyed hash)


def _word(key: str, lang: Lang) -> str:
    return t(key, lang)


def _value(value: Any) -> str | None:
    """A value as text: strings as they are, everything else (numbers, booleans, dicts, lists) as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _object(ref: dict[str, str]) -> str:
    return f"{ref['kind']} {ref['namespace']}/{ref['name']}" if ref["namespace"] else f"{ref['kind']}/{ref['name']}"


def _tenant(data: dict[str, Any], lang: Lang) -> TenantSection:
    findings = [
        FindingRow(f["kind"], finding_text(f["kind"], lang), _object(f["object"]), f["component"], f["path"],
                   _value(finding_value(f, "expected", lang)), _value(finding_value(f, "actual", lang)),
                   bool(f["guardrail"]))
        for f in data["findings"]
    ]
    hashes = [(secret, key, digest) for secret, keys in sorted(data["secretHashes"].items())
              for key, digest in sorted(keys.items())]
    return TenantSection(data["tenant"], data["status"], t(f"status.{data['status']}", lang),
                         data["catalogVersion"] or "-", data["objectsChecked"], data["error"], findings, hashes)


def render_html(report: dict[str, Any], json_sha256: str, lang: Lang | str = "en") -> str:
    """The report as a self-contained HTML page in `lang` ("en" or "id"), showing the JSON evidence's SHA-256."""
    language = Lang(lang)
    digest = json_sha256.lower()
    if not _SHA256.fullmatch(digest):
        raise ValueError(f"json_sha256 must be a SHA-256 hex digest (64 hex digits), got {json_sha256!r}")
    if report.get("kind") != "DriftReport":
        raise ValueError(f"not a drift report (kind {report.get('kind')!r}, expected 'DriftReport')")
    summary = report["summary"]
    verdict = "clean" if report["clean"] else "drift"
    words = {key: _word(key, language) for key in MESSAGES}
    return _ENV.get_template("drift_report.html.j2").render(
        lang=language.value,
        w=words,
        report=report,
        summary=summary,
        verdict=verdict,
        verdict_text=t(f"status.{verdict}", language),
        summary_clean=t("summary.clean", language, **summary),
        summary_drift=t("summary.drift", language, **summary),
        tenants=[_tenant(tenant, language) for tenant in report["tenants"]],
        rules=[{**rule, "target": rule_target(rule, language), "reason_text": rule_reason(rule, language)}
               for rule in report["rules"]],
        json_sha256=digest,
    )
