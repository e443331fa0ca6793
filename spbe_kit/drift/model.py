"""What a drift check finds and reports: typed findings per tenant, and the report auditors file."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class FindingKind(str, enum.Enum):
    """Kinds of drift, worst first."""

    MISSING = "missing"  # an object of the baseline is not in the cluster
    CHANGED = "changed"  # a field the baseline sets has another value
    STRAY = "stray"  # an object in a tenant namespace that the baseline does not define
    SECRET_CHANGED = "secret-changed"  # a credential's keyed hash differs from the previous report
    UNVERIFIED = "unverified"  # could not be checked (e.g. no permission to read Secrets): never counted as clean


@dataclass(frozen=True)
class ObjectRef:
    """Which object: apiVersion, kind, namespace, name."""

    api_version: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}" if not self.namespace else f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Phrase:
    """Words of the kit inside a finding (not a value read from the cluster): translated when shown."""

    key: str  # a key of the drift message catalogues
    params: tuple[tuple[str, str], ...] = ()

    def english(self) -> str:
        from spbe_kit.drift.words.en import WORDS

        return WORDS[self.key].format(**dict(self.params)) if self.params else WORDS[self.key]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "params": dict(self.params)}


@dataclass(frozen=True)
class Finding:
    """One difference between the baseline and the live cluster."""

    kind: FindingKind
    object: ObjectRef
    component: str
    path: str = ""  # field path in the object, e.g. spec.template.spec.containers[name=keycloak].image
    expected: Any = None
    actual: Any = None
    guardrail: bool = False  # a guardrail object (namespace, quota, limits, policies, RBAC)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        for which in ("expected", "actual"):  # the evidence keeps the English text and the phrase's key
            value = getattr(self, which)
            if isinstance(value, Phrase):
                data[which] = value.english()
                data[f"{which}Phrase"] = value.to_dict()
        data["object"] = {"apiVersion": self.object.api_version, "kind": self.object.kind,
                          "namespace": self.object.namespace, "name": self.object.name}
        return data


@dataclass
class TenantResult:
    """The check of one tenant."""

    tenant: str
    catalog_version: str | None
    objects_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None  # the tenant could not be checked at all
    not_provisioned: bool = False  # its namespace does not exist: never provisioned, or destroyed
    secret_hashes: dict[str, dict[str, str]] = field(default_factory=dict)  # secret -> key -> keyed hash
    suspended: dict[str, str | None] | None = None  # the platform's suspension record (at, by, backup)

    @property
    def clean(self) -> bool:
        return self.error is None and not self.findings

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        if self.not_provisioned:
            return "not-provisioned"
        if any(f.kind is FindingKind.UNVERIFIED for f in self.findings) and all(
            f.kind is FindingKind.UNVERIFIED for f in self.findings
        ):
            return "unverified"
        if self.clean:
            return "suspended" if self.suspended else "clean"
        return "drift"
