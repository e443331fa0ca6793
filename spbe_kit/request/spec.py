"""TenantSpec: a validated tenant request, the typed input of everything downstream."""

from __future__ import annotations

from dataclasses import dataclass, field

from spbe_kit.regions import Level
from spbe_kit.request.model import Component, ContactRole, Tier


@dataclass(frozen=True)
class Pemda:
    """The local government, as matched against the official region list."""

    name: str
    level: Level
    region_code: str
    province: str


@dataclass(frozen=True)
class Contact:
    """A person or unit the platform team can reach."""

    role: ContactRole
    name: str
    email: str


@dataclass(frozen=True)
class BackupRequest:
    """Backup settings the pemda asked for; None means the catalog default."""

    schedule: str | None
    retention_days: int | None


@dataclass(frozen=True)
class EofficeOptions:
    """E-office options: an external SMTP relay when the tenant has no mail component."""

    mail_relay: str | None = None


@dataclass(frozen=True)
class TenantSpec:
    """Everything a validated request says; code after validation trusts these types."""

    tenant_id: str
    pemda: Pemda
    domain: str
    contacts: tuple[Contact, ...]
    tier: Tier
    components: frozenset[Component]
    backup: BackupRequest
    eoffice: EofficeOptions = EofficeOptions()
    #: the catalog version the request pins (None: whatever the operator rolls out)
    catalog_version: str | None = None
    #: the request text as the pemda wrote it (no secrets in it); kept with the tenant's stack
    request_text: str = field(default="", compare=False, repr=False)

    def has(self, component: Component) -> bool:
        """Whether the tenant asked for this component."""
        return component in self.components

    @property
    def ordered_components(self) -> tuple[Component, ...]:
        """The tenant's components in catalog order (stable for rendering)."""
        return tuple(c for c in Component if c in self.components)
