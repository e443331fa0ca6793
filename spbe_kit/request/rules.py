"""Rules a tenant request must follow beyond its shape: region list, domain, components, backups.

Each rule returns FieldProblems instead of raising, so a pemda sees every problem at once.
"""

from __future__ import annotations

import re

from spbe_kit.errors import FieldProblem, RegionError
from spbe_kit.regions import CODE_PATTERN, find_region, normalise_name
from spbe_kit.request.model import (
    REQUIRED_COMPONENTS,
    BackupModel,
    ComponentsModel,
    ContactModel,
    ContactRole,
    PemdaModel,
    TenantRequestModel,
)

MIN_RETENTION_DAYS = 7
MAX_RETENTION_DAYS = 3650
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
HOST_PORT = re.compile(r"^[a-z0-9.-]+:\d{1,5}$")
CATALOG_VERSION = re.compile(r"^\d{4}\.\d{2}$")
_CRON_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def check_request(req: TenantRequestModel) -> list[FieldProblem]:
    """All rule violations in a request whose shape is already valid."""
    spec = req.spec
    problems = check_parts(req.metadata.name, spec.pemda, spec.domain, spec.contacts, spec.components, spec.backup)
    return problems + check_catalog_version(spec.catalog_version)


def check_catalog_version(value: object) -> list[FieldProblem]:
    """A pinned catalog version (spec.catalogVersion) looks like one; whether it is shipped is checked where
    a catalog is loaded."""
    if value is None or (isinstance(value, str) and CATALOG_VERSION.match(value)):
        return []
    return [FieldProblem("spec.catalogVersion", f"{value!r} is not a catalog version",
                         "a version as `spbe catalog show` names it, e.g. 2026.11; leave it out to follow rollouts")]


def check_parts(name: str | None, pemda: PemdaModel | None, domain: str | None, contacts: list[ContactModel] | None,
                components: ComponentsModel | None, backup: BackupModel | None) -> list[FieldProblem]:
    """The rule violations of every part given; a part that is None failed its shape check and is skipped.

    Lets a request with a shape error in one part still get the rule problems of the others
    in the same run, so a pemda fixes everything in one round.
    """
    problems: list[FieldProblem] = []
    if name is not None:
        problems += _check_name(name)
    if pemda is not None:
        problems += _check_pemda(pemda)
    if domain is not None:
        problems += _check_domain(domain)
    if contacts is not None:
        problems += _check_contacts(contacts)
    if components is not None:
        problems += _check_components(components)
    if backup is not None:
        problems += _check_backup(backup)
    return problems


def _check_name(name: str) -> list[FieldProblem]:
    if DNS_LABEL.match(name):
        return []
    return [
        FieldProblem(
            "metadata.name",
            f"{name!r} cannot be a tenant id",
            "use lowercase letters, digits and '-', at most 63 characters, e.g. kab-banyuwangi",
        )
    ]


def _check_pemda(pemda: PemdaModel) -> list[FieldProblem]:
    path = "spec.pemda"
    if not CODE_PATTERN.match(pemda.region_code):
        return [
            FieldProblem(
                f"{path}.regionCode",
                f"{pemda.region_code!r} is not a Kemendagri region code",
                'use NN for a provinsi or NN.NN for a kabupaten/kota, in quotes: regionCode: "35.10"',
            )
        ]
    try:
        region = find_region(pemda.region_code)
    except RegionError as exc:
        return [FieldProblem(f"{path}.regionCode", exc.message, exc.hint)]
    problems = []
    if region.is_administrative:
        problems.append(
            FieldProblem(
                f"{path}.regionCode",
                f"{region.code} is {region.name}, an administrative region of DKI Jakarta, not an autonomous pemda",
                'its SPBE services are provided by the provincial tenant: regionCode: "31"',
            )
        )
    if pemda.level != region.level:
        problems.append(
            FieldProblem(
                f"{path}.level",
                f"region {region.code} ({region.name}) is a {region.level.value}, not a {pemda.level.value}",
                f"set level: {region.level.value}, or check the region code",
            )
        )
    if normalise_name(pemda.name) != normalise_name(region.name):
        problems.append(
            FieldProblem(
                f"{path}.name",
                f"region {region.code} is officially named {region.name!r}, not {pemda.name!r}",
                f"write name: {region.name}, or check the region code",
            )
        )
    if normalise_name(pemda.province) != normalise_name(region.province):
        problems.append(
            FieldProblem(
                f"{path}.province",
                f"region {region.code} lies in {region.province}, not {pemda.province!r}",
                f"write province: {region.province}",
            )
        )
    return problems


def _check_domain(domain: str) -> list[FieldProblem]:
    path = "spec.domain"
    if domain != domain.lower():
        return [FieldProblem(path, f"{domain!r} has capital letters", f"write it in lowercase: {domain.lower()}")]
    labels = domain.split(".")
    if not domain.endswith(".go.id") or len(labels) < 3:
        return [
            FieldProblem(
                path,
                f"{domain!r} is not a government domain under .go.id",
                "use the pemda's registered domain, e.g. banyuwangikab.go.id",
            )
        ]
    if len(domain) > 253 or not all(DNS_LABEL.match(label) for label in labels):
        return [
            FieldProblem(
                path,
                f"{domain!r} is not a valid domain name",
                "each part between dots: letters, digits and '-', not starting or ending with '-'",
            )
        ]
    return []


def _check_contacts(contacts: list[ContactModel]) -> list[FieldProblem]:
    problems = []
    for index, contact in enumerate(contacts):
        if not EMAIL.match(contact.email):
            problems.append(
                FieldProblem(
                    f"spec.contacts[{index}].email",
                    f"{contact.email!r} is not an e-mail address",
                    "write one address, e.g. aptika@banyuwangikab.go.id",
                )
            )
    if not any(c.role is ContactRole.TECHNICAL for c in contacts):
        problems.append(
            FieldProblem(
                "spec.contacts",
                "no technical contact is listed",
                "add a contact with role: technical, the team the platform operators can reach",
            )
        )
    return problems


def _check_components(components: ComponentsModel) -> list[FieldProblem]:
    wanted = components.model_fields_set
    problems = []
    for component in REQUIRED_COMPONENTS:
        if component.value not in wanted:
            problems.append(
                FieldProblem(
                    "spec.components",
                    f"{component.value} cannot be left out: it is part of every SPBE tenant",
                    f"add `{component.value}: {{}}` under components",
                )
            )
    if "eoffice" in wanted:
        relay = components.eoffice.mail_relay if components.eoffice else None
        if "mail" not in wanted and relay is None:
            problems.append(
                FieldProblem(
                    "spec.components.eoffice.mailRelay",
                    "e-office needs a mail server, and this tenant has no mail component",
                    "add `mail: {}`, or give the existing relay: `eoffice: {mailRelay: smtp.example.go.id:587}`",
                )
            )
        elif "mail" in wanted and relay is not None:
            problems.append(
                FieldProblem(
                    "spec.components.eoffice.mailRelay",
                    "e-office uses the tenant's own mail component, so an outside relay is not used",
                    "remove mailRelay, or remove `mail` if the pemda keeps its existing mail service",
                )
            )
        elif relay is not None and not HOST_PORT.match(relay):
            problems.append(
                FieldProblem(
                    "spec.components.eoffice.mailRelay",
                    f"{relay!r} is not host:port",
                    "e.g. smtp.banyuwangikab.go.id:587",
                )
            )
    return problems


def _check_backup(backup: BackupModel) -> list[FieldProblem]:
    problems = []
    days = backup.retention_days
    if days is not None and days < MIN_RETENTION_DAYS:
        problems.append(
            FieldProblem(
                "spec.backup.retentionDays",
                f"backups must be kept at least {MIN_RETENTION_DAYS} days, not {days}",
                f"set retentionDays to {MIN_RETENTION_DAYS} or more (leave it out for the catalog default)",
            )
        )
    elif days is not None and days > MAX_RETENTION_DAYS:
        problems.append(
            FieldProblem(
                "spec.backup.retentionDays",
                f"{days} days is more than the {MAX_RETENTION_DAYS} the backup volume is sized for",
                "keep long-term archives outside the tenant; ask platform ops",
            )
        )
    if backup.schedule is not None:
        error = cron_error(backup.schedule)
        if error:
            problems.append(
                FieldProblem(
                    "spec.backup.schedule",
                    f"{backup.schedule!r} is not a cron schedule: {error}",
                    'five fields "minute hour day month weekday", e.g. "0 1 * * *" for 01:00 every day',
                )
            )
    return problems


def cron_error(schedule: str) -> str | None:
    """Why a cron expression is invalid for a Kubernetes CronJob, or None if it is fine."""
    text = schedule.strip()
    if text in _CRON_MACROS:
        return None
    fields = text.split()
    if len(fields) != 5:
        return f"it has {len(fields)} fields, not 5"
    for value, (name, low, high) in zip(fields, _CRON_RANGES):
        for part in value.split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"bad step {step!r} in the {name} field"
            if base == "*":
                continue
            bounds = base.split("-")
            if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
                return f"{part!r} is not a number, range or * in the {name} field"
            if not all(low <= int(b) <= high for b in bounds):
                return f"{part!r} is outside {low}-{high} in the {name} field"
            if len(bounds) == 2 and int(bounds[0]) > int(bounds[1]):
                return f"range {part!r} runs backwards in the {name} field"
    return None
