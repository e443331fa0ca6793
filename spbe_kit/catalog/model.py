"""The baseline catalog's typed model: images, platform settings, backup defaults, size tiers."""

from __future__ import annotations

import enum
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class Tier(str, enum.Enum):
    """Size tier; the catalog says what each one means in CPU, memory and storage."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Image(_Strict):
    """A container image pinned by digest; the tag is informative, the digest decides."""

    registry: StrictStr
    repository: StrictStr
    tag: StrictStr
    digest: StrictStr
    placeholder: StrictBool = False
    #: the `spbe images` recipe that builds it here (None: an upstream image, mirrored as published)
    recipe: StrictStr | None = None

    @property
    def baseline_build(self) -> bool:
        """Built by the SPBE pipeline: uid 10001, read-only root, prebuilt where upstream rewrites itself."""
        return self.recipe is not None

    @field_validator("digest")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not DIGEST.match(value):
            raise ValueError("must be sha256:<64 hex digits>")
        return value

    def reference(self, registry: str | None = None) -> str:
        """`registry/repository:tag@digest`, with the registry replaced by a mirror if given."""
        return f"{registry or self.registry}/{self.repository}:{self.tag}@{self.digest}"


class Platform(_Strict):
    """Cluster-wide facts every tenant's objects refer to."""

    ingress_class_name: StrictStr = Field(alias="ingressClassName")
    ingress_namespace: StrictStr = Field(alias="ingressNamespace")
    tls_cluster_issuer: StrictStr = Field(alias="tlsClusterIssuer")
    dns_namespace: StrictStr = Field(alias="dnsNamespace")
    auditor_group: StrictStr = Field(alias="auditorGroup")
    tenant_admin_group: StrictStr = Field(alias="tenantAdminGroup")
    pod_security_version: StrictStr = Field(alias="podSecurityVersion")
    run_as_user: StrictInt = Field(alias="runAsUser", ge=10000)

    def admin_group(self, tenant_id: str) -> str:
        """The identity-provider group whose members administer one tenant."""
        return self.tenant_admin_group.replace("{tenant}", tenant_id)


class BackupDefaults(_Strict):
    """Backup settings a tenant gets unless its request says otherwise."""

    schedule: StrictStr
    retention_days: StrictInt = Field(alias="retentionDays", ge=7)
    restore_check_schedule: StrictStr = Field(alias="restoreCheckSchedule")
    #: where the nightly job writes: ``volume`` (a volume in the tenant's own namespace, up to 2026.12) or
    #: ``store`` (the platform's backup store, from jobs the platform runs in ``namespace``, outside the tenant)
    destination: Literal["volume", "store"] = "volume"
    namespace: StrictStr | None = None

    @property
    def to_store(self) -> bool:
        return self.destination == "store"

    def job_location(self, tenant_id: str) -> tuple[str, str]:
        """(namespace, name) of a tenant's backup CronJob; its Secret (the backup role's password) has the same."""
        if self.to_store:
            assert self.namespace
            return self.namespace, f"{tenant_id}-backup"
        return tenant_id, "database-backup"

    @model_validator(mode="after")
    def _store_has_a_namespace(self) -> "BackupDefaults":
        if self.to_store and not self.namespace:
            raise ValueError("backup.destination store needs backup.namespace (where the platform runs the jobs)")
        return self


class Resources(_Strict):
    """CPU and memory of one container."""

    cpu: StrictStr
    memory: StrictStr


class WorkloadSize(_Strict):
    """How big one workload is in a tier."""

    replicas: StrictInt = Field(ge=1)
    request: Resources
    limit: Resources
    storage: StrictStr | None = None


class ContainerDefaults(_Strict):
    """LimitRange values for containers that do not say their own."""

    request: Resources
    limit: Resources
    max: Resources


class TierSpec(_Strict):
    """Everything a size tier decides: the namespace quota, container defaults, workload sizes."""

    quota: dict[str, StrictStr]
    container_defaults: ContainerDefaults = Field(alias="containerDefaults")
    workloads: dict[str, WorkloadSize]


class Catalog(_Strict):
    """One version of the baseline catalog."""

    api_version: StrictStr = Field(alias="apiVersion")
    kind: StrictStr
    version: StrictStr
    images: dict[str, Image]
    platform: Platform
    backup: BackupDefaults
    tiers: dict[Tier, TierSpec]
    registry_override: StrictStr | None = Field(default=None, alias="registryOverride")
    #: data volumes of components this version drops, which moving a tenant onto it may delete
    #: (claim name -> why nothing of the tenant's is lost)
    retired_volumes: dict[StrictStr, StrictStr] = Field(default_factory=dict, alias="retiredVolumes")

    def image(self, name: str) -> str:
        """The full reference of a catalog image, honouring the registry override."""
        return self.images[name].reference(self.registry_override)

    def with_registry(self, registry: str | None) -> "Catalog":
        """The same catalog with every image pulled from `registry` (an air-gapped mirror)."""
        return self if not registry else self.model_copy(update={"registry_override": registry})
