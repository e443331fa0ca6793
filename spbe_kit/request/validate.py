"""Turn a request file into a TenantSpec, or into every problem a pemda has to fix.

Pipeline: strict YAML -> wire schema (model.py) -> rules (rules.py) -> TenantSpec.
Nothing downstream ever sees a request that failed any step.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from spbe_kit.errors import FieldProblem, RequestInvalid, RequestUnreadable
from spbe_kit.request.model import (
    BackupModel,
    Component,
    ComponentsModel,
    ContactModel,
    PemdaModel,
    TenantRequestModel,
)
from spbe_kit.request.rules import check_catalog_version, check_parts, check_request
from spbe_kit.request.spec import BackupRequest, Contact, EofficeOptions, Pemda, TenantSpec
from spbe_kit.request.yaml_source import YamlDocument, YamlProblem, parse_yaml


def load_request(path: str | Path) -> TenantSpec:
    """Read and validate one request file; raise RequestInvalid listing every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RequestUnreadable(str(path), exc.strerror or str(exc)) from None
    return parse_request(raw, source=str(path))


def parse_request(text: str | bytes, source: str = "<request>") -> TenantSpec:
    """Validate request text; raise RequestInvalid listing every problem."""
    try:
        doc = parse_yaml(text)
    except YamlProblem as exc:
        raise RequestInvalid(source, [exc.problem]) from None
    if not isinstance(doc.data, dict):
        kind = "empty" if doc.data is None else f"a {_kind_of(doc.data)}"
        raise RequestInvalid(
            source,
            [FieldProblem("(file)", f"the file is {kind}, not a tenant request", "start from `spbe request new`")],
        )
    try:
        model = TenantRequestModel.model_validate(doc.data)
    except ValidationError as exc:
        shape = _from_pydantic(exc, doc)
        # the parts whose shape is fine still get their rule checks: every problem in one run
        taken = {p.path for p in shape}
        spec_data = doc.data.get("spec") if isinstance(doc.data.get("spec"), dict) else {}
        rules = [_with_line(p, doc) for p in check_parts(*_valid_parts(doc.data)) + check_catalog_version(
            spec_data.get("catalogVersion")) if p.path not in taken]
        raise RequestInvalid(source, shape + rules) from None
    problems = [_with_line(p, doc) for p in check_request(model)]
    if problems:
        raise RequestInvalid(source, problems)
    text = text.decode("utf-8") if isinstance(text, bytes) else text
    return dataclasses.replace(_to_spec(model), request_text=text)


def _part(model: type[BaseModel] | None, value: Any) -> Any:
    """``value`` validated as ``model`` (a plain string when None), or None when it is not valid."""
    if model is None:
        return value if isinstance(value, str) else None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _valid_parts(data: dict[str, Any]) -> tuple[Any, ...]:
    """(name, pemda, domain, contacts, components, backup) of raw request data, None where invalid."""
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    contacts = spec.get("contacts")
    parsed_contacts = None
    if isinstance(contacts, list) and contacts:
        parsed = [_part(ContactModel, c) for c in contacts]
        parsed_contacts = parsed if all(c is not None for c in parsed) else None
    backup = spec.get("backup")
    return (
        _part(None, metadata.get("name")),
        _part(PemdaModel, spec.get("pemda")),
        _part(None, spec.get("domain")),
        parsed_contacts,
        _part(ComponentsModel, spec.get("components")),
        _part(BackupModel, backup) if backup is not None else None,
    )


def _to_spec(model: TenantRequestModel) -> TenantSpec:
    spec = model.spec
    backup = spec.backup
    wanted = spec.components.model_fields_set
    eoffice = spec.components.eoffice
    return TenantSpec(
        tenant_id=model.metadata.name,
        pemda=Pemda(
            name=spec.pemda.name,
            level=spec.pemda.level,
            region_code=spec.pemda.region_code,
            province=spec.pemda.province,
        ),
        domain=spec.domain,
        contacts=tuple(Contact(role=c.role, name=c.name, email=c.email) for c in spec.contacts),
        tier=spec.tier,
        components=frozenset(Component(name) for name in wanted),
        backup=BackupRequest(
            schedule=backup.schedule if backup else None,
            retention_days=backup.retention_days if backup else None,
        ),
        eoffice=EofficeOptions(mail_relay=eoffice.mail_relay if eoffice else None),
        catalog_version=spec.catalog_version,
    )


# --- pydantic errors in words a pemda IT person understands -------------------------------

def _from_pydantic(exc: ValidationError, doc: YamlDocument) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False):
        problem = _with_line(_translate(error), doc)
        key = (problem.path, problem.message)
        if key not in seen:
            seen.add(key)
            problems.append(problem)
    return problems


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(file)"


def _translate(error: dict[str, Any]) -> FieldProblem:
    loc = tuple(error["loc"])
    path = _path(loc)
    kind = error["type"]
    value = error.get("input")
    field = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        return _unknown_field(loc, path)
    if kind == "missing":
        return FieldProblem(path, f"`{field}` is required but missing", f"add `{field}:` here; compare with `spbe request new`")
    if path == "spec.backup" and value is False:
        return FieldProblem(path, "backups cannot be switched off", "backups are mandatory in the SPBE baseline; remove this line for the default schedule")
    if kind == "string_type" and field == "regionCode" and isinstance(value, (int, float)) and not isinstance(value, bool):
        shown = f"{value:.2f}" if isinstance(value, float) else f"{value:02d}"
        return FieldProblem(
            path,
            f"the region code was read as the number {value!r}, so its digits may be lost",
            f'put it in quotes: regionCode: "{shown}"',
        )
    if kind == "string_type":
        return FieldProblem(path, f"`{field}` must be text, not {_describe(value)}", f'put the value in quotes, e.g. {field}: "..."')
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return FieldProblem(path, f"`{field}` must be a whole number, not {_describe(value)}", f"e.g. {field}: 30 (no quotes)")
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return FieldProblem(path, f"{_describe(value)} is not allowed for `{field}`", f"use one of {expected}")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return FieldProblem(path, f"{_describe(value)} is not a valid `{field}`", f"write {field}: {expected.strip(chr(39))}")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return FieldProblem(path, f"`{field}` must be a block of fields, not {_describe(value)}", "indent its fields under it, or write {} for the defaults")
    if kind == "list_type":
        return FieldProblem(path, f"`{field}` must be a list, not {_describe(value)}", "write each entry on its own line starting with `- `")
    if kind == "too_short":
        return FieldProblem(path, f"`{field}` needs at least one entry", "see the example in `spbe request new`")
    return FieldProblem(path, error.get("msg", "invalid value"), None)


def _unknown_field(loc: tuple[Any, ...], path: str) -> FieldProblem:
    field = str(loc[-1])
    if loc[-2:] == ("backup", "enabled"):
        return FieldProblem(path, "backups cannot be switched off", "backups are mandatory in the SPBE baseline; remove `enabled`")
    allowed = _allowed_fields(loc[:-1])
    close = difflib.get_close_matches(field, allowed, n=1)
    if close:
        hint = f"did you mean `{close[0]}`?"
    elif allowed:
        hint = "allowed here: " + ", ".join(allowed)
    else:
        hint = "this block takes no options in apiVersion spbe.go.id/v1alpha1; write {}"
    return FieldProblem(path, f"unknown field `{field}`", hint)


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    """The field names (as written in YAML) accepted at a location of the request."""
    model: type[BaseModel] | None = TenantRequestModel
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        model = _model_in(info.annotation) if info else None
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found:
            return found
    return None


def _with_line(problem: FieldProblem, doc: YamlDocument) -> FieldProblem:
    path = problem.path
    while path:
        if path in doc.lines:
            return FieldProblem(problem.path, problem.message, problem.hint, doc.lines[path])
        path = path.rsplit(".", 1)[0] if "." in path else (path.rsplit("[", 1)[0] if "[" in path else "")
    return problem


def _kind_of(value: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "yes/no value"}.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the yes/no value {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return repr(shown)
    return f"a {_kind_of(value)}"
