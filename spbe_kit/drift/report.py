"""Drift report formats: text table, JSON, JUnit XML, and evidence files (JSON + HTML, digest-linked)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from spbe_kit.drift.messages import Lang, finding_text, finding_value, t


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _object(f: dict[str, Any]) -> str:
    o = f["object"]
    return f"{o['kind']} {o['namespace']}/{o['name']}" if o["namespace"] else f"{o['kind']}/{o['name']}"


def as_json(report: dict[str, Any]) -> str:
    """The evidence format: stable key order, UTF-8."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def as_text(report: dict[str, Any], lang: Lang = Lang.EN) -> str:
    """A readable report for a terminal."""
    s = report["summary"]
    lines = [f"{t('title', lang)} — {report['generatedAt']} — {t('cluster', lang)}: {report['cluster']}"]
    for tenant in report["tenants"]:
        status = t(f"status.{tenant['status']}", lang)
        lines.append(f"\n{tenant['tenant']}: {status} ({t('catalog', lang)} {tenant['catalogVersion']}, "
                     f"{tenant['objectsChecked']} {t('objects', lang).lower()})")
        if tenant["error"]:
            lines.append(f"  ! {tenant['error']}")
        for f in tenant["findings"]:
            mark = f" [{t('guardrail', lang)}]" if f["guardrail"] else ""
            where = f" {f['path']}" if f["path"] else ""
            lines.append(f"  - {_object(f)}{where}: {finding_text(f['kind'], lang)}{mark}")
            if f["kind"] in ("changed", "secret-changed"):
                lines.append(f"      {t('expected', lang)}: {_value(finding_value(f, 'expected', lang))}")
                lines.append(f"      {t('actual', lang)}: {_value(finding_value(f, 'actual', lang))}")
    if report["unknownTenantNamespaces"]:
        lines.append(f"\n{t('unknown_namespaces', lang)}: {', '.join(report['unknownTenantNamespaces'])}")
    lines.append("")
    lines.append(t("summary.clean", lang, **s))
    if not report["clean"]:
        lines.append(t("summary.drift", lang, **s))
    lines.append(f"{t('requests', lang)}: {s['apiRequests']}, {s['seconds']}s")
    return "\n".join(lines) + "\n"


def as_junit(report: dict[str, Any], lang: Lang = Lang.EN) -> str:
    """JUnit XML: a test suite per tenant, a test case per finding (or one passing case when clean)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    s = report["summary"]
    out.append(f'<testsuites name="spbe-drift" tests="{max(s["tenants"], 1)}" failures="{s["drifted"] + s["unverified"]}" '
               f'errors="{s["errors"]}" time="{s["seconds"]}">')
    for tenant in report["tenants"]:
        findings = tenant["findings"]
        failures = 0 if tenant["error"] else len(findings)
        cases = max(len(findings), 1)
        out.append(f'  <testsuite name={quoteattr(tenant["tenant"])} tests="{cases}" failures="{failures}" '
                   f'errors="{1 if tenant["error"] else 0}">')
        if tenant["error"]:
            out.append(f'    <testcase classname={quoteattr(tenant["tenant"])} name="baseline">'
                       f'<error message={quoteattr(tenant["error"])}/></testcase>')
        elif not findings:
            out.append(f'    <testcase classname={quoteattr(tenant["tenant"])} name="baseline"/>')
        for f in findings:
            name = f"{_object(f)} {f['path']}".strip()
            message = finding_text(f["kind"], lang)
            detail = (f"{t('expected', lang)}: {_value(finding_value(f, 'expected', lang))}\n"
                      f"{t('actual', lang)}: {_value(finding_value(f, 'actual', lang))}")
            out.append(f'    <testcase classname={quoteattr(tenant["tenant"])} name={quoteattr(name)}>'
                       f'<failure type={quoteattr(f["kind"])} message={quoteattr(message)}>{escape(detail)}</failure>'
                       "</testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def write_evidence(report: dict[str, Any], folder: Path, lang: Lang = Lang.EN) -> tuple[Path, Path, str]:
    """Write drift-<time>.json and its HTML view (which shows the JSON's SHA-256); return both and the digest."""
    from spbe_kit.drift.html import render_html

    folder.mkdir(parents=True, exist_ok=True)
    stamp = report["generatedAt"].replace("-", "").replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    data = as_json(report).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    json_path = folder / f"drift-{stamp}.json"
    html_path = folder / f"drift-{stamp}.html"
    json_path.write_bytes(data)
    html_path.write_text(render_html(report, digest, lang.value), encoding="utf-8")
    (folder / f"drift-{stamp}.json.sha256").write_text(f"{digest}  {json_path.name}\n")
    return json_path, html_path, digest
