"""The request form: what a pemda types, turned into the exact request YAML the CLI would validate.

Form fields are named by the request path they fill (``spec.domain``, ``spec.contacts[1].email``), so every
problem the validator finds lands next to the field it is about. Nothing here validates on its own beyond
size limits: the rules are the request validator's, all problems at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from spbe_kit.catalog.model import Catalog
from spbe_kit.errors import FieldProblem, RegionError, RequestInvalid
from spbe_kit.regions import Region, all_regions, find_region, normalise_name
from spbe_kit.request import parse_request
from spbe_kit.request.model import API_VERSION, KIND, ContactRole, Tier
from spbe_kit.request.spec import TenantSpec
from spbe_kit.request.yaml_source import YamlProblem, parse_yaml

#: longest value any single field may carry (a domain is at most 253, an e-mail 254)
MAX_FIELD_CHARS = 256
#: largest request YAML accepted as an upload (a full request is about 1 KiB)
MAX_UPLOAD_BYTES = 32 * 1024
CONTACT_ROWS = 3
OPTIONAL_COMPONENTS = ("eoffice", "mail")
REGION_FIELD = "spec.pemda.regionCode"


@dataclass
class FormResult:
    """The form as the pemda filled it, the request text it makes, and what is wrong with it."""

    values: dict[str, str]
    components: set[str]
    request_yaml: str
    spec: TenantSpec | None = None
    problems: dict[str, list[FieldProblem]] = field(default_factory=dict)  # form field (or "") -> problems

    @property
    def valid(self) -> bool:
        return self.spec is not None and not self.problems

    @property
    def general_problems(self) -> list[FieldProblem]:
        return self.problems.get("", [])

    def count(self) -> int:
        return sum(len(p) for p in self.problems.values())


def search_regions(query: str, allowed: frozenset[str] | None = None, limit: int = 20) -> list[Region]:
    """Regions whose code starts with, or whose name contains, the query (Jakarta's administrative areas left
    out: they are not autonomous pemda); ``allowed`` limits them to a requester's own regions."""
    query = query.strip()[:MAX_FIELD_CHARS]
    wanted = normalise_name(query) if query else ""
    digits = query.replace(".", "") if re.fullmatch(r"[\d.]+", query) else ""
    found = []
    for region in all_regions().values():
        if region.is_administrative or (allowed is not None and region.code not in allowed):
            continue
        code_match = digits and region.code.replace(".", "").startswith(digits)
        if not query or code_match or (wanted and wanted in normalise_name(region.name)):
            found.append(region)
    found.sort(key=lambda r: r.code)
    return found[:limit]


def defaults_for(region: Region, catalog: Catalog) -> dict[str, str]:
    """The form prefilled for a region: its suggested domain, the tier and backup defaults."""
    level_tier = {"provinsi": Tier.LARGE, "kota": Tier.MEDIUM, "kabupaten": Tier.MEDIUM}
    return {
        REGION_FIELD: region.code,
        "spec.domain": region.conventional_domain,
        "spec.tier": level_tier.get(region.level.value, Tier.MEDIUM).value,
        "spec.contacts[0].role": ContactRole.TECHNICAL.value,
        "spec.contacts[0].name": "",
        "spec.contacts[0].email": "",
        "spec.backup.schedule": catalog.backup.schedule,
        "spec.backup.retentionDays": str(catalog.backup.retention_days),
    }


def read_form(form: Mapping[str, str], components: list[str], catalog: Catalog) -> FormResult:
    """The form's values into a request, validated by the CLI's validator."""
    values = {k: str(v) for k, v in form.items() if k.startswith("spec.")}
    chosen = {c for c in components if c in OPTIONAL_COMPONENTS}
    problems: dict[str, list[FieldProblem]] = {}
    for name, value in values.items():
        if len(value) > MAX_FIELD_CHARS:
            problems.setdefault(name, []).append(FieldProblem(
                name, f"too long: {len(value)} characters, at most {MAX_FIELD_CHARS}", "shorten the value"))
    if problems:  # nothing oversized reaches the validator (or the page again)
        for name in problems:
            values[name] = values[name][:MAX_FIELD_CHARS]
        return FormResult(values, chosen, "", None, problems)
    document, rows = _document(values, chosen)
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)
    try:
        spec = parse_request(text, source="formulir")
    except RequestInvalid as exc:
        found = list(exc.problems)
        if document["spec"]["pemda"].get("name") is None:  # no such region: what follows from it is its problem
            found = [p for p in found if p.path not in _FROM_REGION and p.path != REGION_FIELD]
            found.insert(0, _region_problem(values.get(REGION_FIELD, "").strip()))
        for problem in found:
            problems.setdefault(_field_of(problem.path, rows, values), []).append(problem)
        return FormResult(values, chosen, text, None, problems)
    return FormResult(values, chosen, text, spec, {})


def read_upload(data: bytes, catalog: Catalog) -> FormResult:
    """An uploaded request YAML, put into the form (so its problems land next to the fields) and validated."""
    if len(data) > MAX_UPLOAD_BYTES:
        problem = FieldProblem("(file)", f"the file is {len(data)} bytes, at most {MAX_UPLOAD_BYTES}",
                               "upload only the tenant request YAML")
        return FormResult({}, set(), "", None, {"": [problem]})
    try:
        document = parse_yaml(data).data  # the CLI's strict reader: no aliases, one document, UTF-8, bounded
    except YamlProblem as exc:
        return FormResult({}, set(), "", None, {"": [exc.problem]})
    spec = document.get("spec") if isinstance(document, dict) else None
    if not isinstance(spec, dict):
        problem = FieldProblem("spec", "the file has no spec: it is not a tenant request",
                               "start from the form, or from `spbe request new`")
        return FormResult({}, set(), "", None, {"": [problem]})
    values: dict[str, str] = {}
    pemda = spec.get("pemda") if isinstance(spec.get("pemda"), dict) else {}
    code = pemda.get("regionCode")
    # an unquoted 35.10 is read as the number 35.1: the form holds the code the pemda meant, as text
    values[REGION_FIELD] = f"{code:.2f}" if isinstance(code, float) else _text(code)
    for key in ("domain", "tier"):
        values[f"spec.{key}"] = _text(spec.get(key))
    contacts = spec.get("contacts") if isinstance(spec.get("contacts"), list) else []
    for i, contact in enumerate(contacts[:CONTACT_ROWS]):
        if isinstance(contact, dict):
            for key in ("role", "name", "email"):
                values[f"spec.contacts[{i}].{key}"] = _text(contact.get(key))
    components = spec.get("components") if isinstance(spec.get("components"), dict) else {}
    chosen = {c for c in OPTIONAL_COMPONENTS if c in components}
    eoffice = components.get("eoffice") if isinstance(components.get("eoffice"), dict) else {}
    if eoffice.get("mailRelay"):
        values["spec.components.eoffice.mailRelay"] = _text(eoffice["mailRelay"])
    backup = spec.get("backup") if isinstance(spec.get("backup"), dict) else {}
    values["spec.backup.schedule"] = _text(backup.get("schedule"))
    values["spec.backup.retentionDays"] = _text(backup.get("retentionDays"))
    result = read_form(values, sorted(chosen), catalog)
    if len(contacts) > CONTACT_ROWS:
        result.problems.setdefault("", []).append(FieldProblem(
            "spec.contacts", f"the form holds {CONTACT_ROWS} contacts, the file has {len(contacts)}",
            f"keep the {CONTACT_ROWS} the platform should reach first"))
        result.spec = None
    return result


def _text(value: Any) -> str:
    """A value from an uploaded file as the form holds it: a scalar as text; nothing else becomes a value."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)[: MAX_FIELD_CHARS + 1]


def _document(values: dict[str, str], components: set[str]) -> tuple[dict[str, Any], list[int]]:
    """The request document; ``rows``: which form row each contact in it came from."""
    code = values.get(REGION_FIELD, "").strip()
    try:
        region = find_region(code) if code else None
    except RegionError:
        region = None
    pemda: dict[str, Any] = {"regionCode": code}
    if region is not None:
        pemda = {"name": region.name, "level": region.level.value, "regionCode": region.code,
                 "province": region.province}
    contacts, rows = [], []
    for i in range(CONTACT_ROWS):
        row = {key: values.get(f"spec.contacts[{i}].{key}", "").strip() for key in ("role", "name", "email")}
        if row["name"] or row["email"] or (i == 0):
            contacts.append(row)
            rows.append(i)
    comps: dict[str, Any] = {"identity": {}, "database": {}, "monitoring": {}}
    if "eoffice" in components:
        relay = values.get("spec.components.eoffice.mailRelay", "").strip()
        comps["eoffice"] = {"mailRelay": relay} if relay else {}
    if "mail" in components:
        comps["mail"] = {}
    backup: dict[str, Any] = {"schedule": values.get("spec.backup.schedule", "").strip()}
    retention = values.get("spec.backup.retentionDays", "").strip()
    backup["retentionDays"] = int(retention) if re.fullmatch(r"-?\d{1,9}", retention) else retention
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": region.tenant_id if region else ""},
        "spec": {
            "pemda": pemda,
            "domain": values.get("spec.domain", "").strip(),
            "contacts": contacts,
            "tier": values.get("spec.tier", "").strip(),
            "components": comps,
            "backup": backup,
        },
    }
    return document, rows


def _region_problem(code: str) -> FieldProblem:
    if not code:
        return FieldProblem(REGION_FIELD, "`regionCode` is required but missing", "start from `spbe request new`")
    try:
        find_region(code)
    except RegionError as exc:
        return FieldProblem(REGION_FIELD, exc.message, exc.hint)
    return FieldProblem(REGION_FIELD, f"{code!r} is not a Kemendagri region code", None)  # pragma: no cover


#: what the form fills from the chosen region (a problem there is the region code's problem)
_FROM_REGION = ("spec.pemda.name", "spec.pemda.level", "spec.pemda.province", "metadata.name")
_CONTACT = re.compile(r"^spec\.contacts\[(\d+)\](.*)$")


def _field_of(path: str, rows: list[int], values: dict[str, str]) -> str:
    """The form field a validator path is about ("" when no field shows it: the page lists it on top)."""
    match = _CONTACT.match(path)
    if match:
        index = int(match.group(1))
        row = rows[index] if index < len(rows) else index
        path = f"spec.contacts[{row}]{match.group(2)}"
    if path.startswith("spec.pemda") or path == "metadata.name":
        return REGION_FIELD
    if path.startswith("spec.components.eoffice"):
        return "spec.components.eoffice.mailRelay" if "mailRelay" in path else "component.eoffice"
    if path.startswith("spec.components"):
        return "components"
    if path in values or path in ("spec.domain", "spec.tier", "spec.backup.schedule", "spec.backup.retentionDays"):
        return path
    if re.match(r"^spec\.contacts\[\d+\]\.(role|name|email)$", path):
        return path
    row = re.match(r"^(spec\.contacts\[\d+\])", path)
    if row:
        return row.group(1)  # the whole row (the page shows it under the row)
    return ""
