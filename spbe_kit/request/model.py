"""The tenant request as written by a pemda (apiVersion spbe.go.id/v1alpha1): the wire schema.

Only shape and types live here; rules that need the region list or span several fields
are in rules.py. Every model forbids unknown fields so a typo is an error, not a no-op.
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from spbe_kit.catalog.model import Tier
from spbe_kit.regions import Level

__all__ = ["Tier"]  # the catalog defines the tiers; requests pick one

API_VERSION = "spbe.go.id/v1alpha1"
KIND = "TenantRequest"


class ContactRole(str, enum.Enum):
    """Who a contact is for."""

    TECHNICAL = "technical"
    SECURITY = "security"
    MANAGEMENT = "management"


class Component(str, enum.Enum):
    """The baseline's components; the order is the order they are built and listed in."""

    IDENTITY = "identity"
    DATABASE = "database"
    MAIL = "mail"
    EOFFICE = "eoffice"
    MONITORING = "monitoring"


REQUIRED_COMPONENTS = (Component.IDENTITY, Component.DATABASE, Component.MONITORING)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False, frozen=True)


class MetadataModel(_Strict):
    name: StrictStr


class PemdaModel(_Strict):
    name: StrictStr
    level: Level
    region_code: StrictStr = Field(alias="regionCode")
    province: StrictStr


class ContactModel(_Strict):
    role: ContactRole
    name: StrictStr
    email: StrictStr


class NoOptions(_Strict):
    """Components with no options in v1alpha1: `{}` (or nothing) means the catalog defaults."""


class EofficeOptions(_Strict):
    mail_relay: StrictStr | None = Field(default=None, alias="mailRelay")


class ComponentsModel(_Strict):
    identity: NoOptions | None = None
    database: NoOptions | None = None
    mail: NoOptions | None = None
    eoffice: EofficeOptions | None = None
    monitoring: NoOptions | None = None


class BackupModel(_Strict):
    schedule: StrictStr | None = None
    retention_days: StrictInt | None = Field(default=None, alias="retentionDays")


class TenantSpecModel(_Strict):
    pemda: PemdaModel
    domain: StrictStr
    contacts: list[ContactModel] = Field(min_length=1)
    tier: Tier
    components: ComponentsModel
    backup: BackupModel | None = None
    #: a pin: this tenant stays on this catalog version whatever a rollout targets
    catalog_version: StrictStr | None = Field(default=None, alias="catalogVersion")


class TenantRequestModel(_Strict):
    api_version: Literal["spbe.go.id/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["TenantRequest"]
    metadata: MetadataModel
    spec: TenantSpecModel
