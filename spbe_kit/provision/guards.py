"""Rules that stop a tenant operation before it can lose data."""

from __future__ import annotations

from dataclasses import dataclass

from spbe_kit import health
from spbe_kit.catalog.load import backup_job_location
from spbe_kit.errors import DestroyRefused
from spbe_kit.provision.settings import EngineSettings


@dataclass(frozen=True)
class DestroyCheck:
    """The outcome of the destroy guard: allowed, with a warning when it was forced."""

    tenant: str
    warning: str | None = None


def check_destroy(tenant_id: str, settings: EngineSettings, force: bool = False) -> DestroyCheck:
    """Refuse to destroy a tenant whose database has no backup younger than a day, unless forced."""
    live = health.tenant_health(tenant_id, settings.kubeconfig, settings.context)
    age = live.backup_age()
    recent = age is not None and age <= health.BACKUP_MAX_AGE
    if not live.namespace_exists or recent:
        return DestroyCheck(tenant_id)
    when = "it has never completed a backup" if age is None else \
        f"its newest backup is {age.total_seconds() / 3600:.0f} hours old"
    if not force:
        namespace, job = backup_job_location(tenant_id, live.catalog_version)
        raise DestroyRefused(
            f"refusing to destroy tenant {tenant_id}: {when}, and destroying deletes its database volumes",
            hint=f"run a backup first (kubectl -n {namespace} create job --from=cronjob/{job} {tenant_id}-backup-now) "
                 "and keep it outside the tenant, or pass --force if the data may be lost",
        )
    return DestroyCheck(tenant_id, f"warning: destroying {tenant_id} although {when} (--force)")
