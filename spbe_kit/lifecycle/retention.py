"""The platform's prune of the store by each tenant's own retention: the request's ``backup.retentionDays``, else
its catalog's default (never below the baseline's 7 days, which the request validator and the store's lock hold).

Run daily by the platform beside ``spbe backup verify-due``, against the folder of every tenant's request (the
platform's git checkout): the retention pemda asked for is what is kept, and no tenant credential can shorten
it (a tenant's store identity may not delete). A tenant in the store without a request in the folder (gone, or
kept elsewhere) is left untouched: its backups stay until someone prunes it by name. Nothing is pruned when any
request of the folder is invalid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.backups import operations
from spbe_kit.backups.store import StoreSettings
from spbe_kit.catalog.load import catalog_for
from spbe_kit.errors import RequestInvalid, RequestUnreadable, SpbeError
from spbe_kit.request import load_request
from spbe_kit.request.spec import TenantSpec


class PruneRefused(SpbeError):
    """Nothing was pruned: the requests could not all be read."""

    exit_code = 1


@dataclass(frozen=True)
class Pruned:
    tenant: str
    outcome: str  # pruned | kept
    retention_days: int | None
    source: str  # the request | catalog VERSION's default | why it was kept
    removed: int = 0
    versions_purged: int = 0

    def to_dict(self) -> dict:
        return {"tenant": self.tenant, "outcome": self.outcome, "retentionDays": self.retention_days,
                "source": self.source, "removed": self.removed, "versionsPurged": self.versions_purged}


def _requests(folder: Path) -> dict[str, TenantSpec]:
    if not folder.is_dir():
        raise PruneRefused(f"no folder of tenant requests at {folder}", hint="pass --requests DIR (every tenant's request)")
    specs: dict[str, TenantSpec] = {}
    bad: list[str] = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.name != "fleet.yaml"):
        try:
            spec = load_request(path)
        except (RequestInvalid, RequestUnreadable):
            bad.append(path.name)
            continue
        specs[spec.tenant_id] = spec
    if bad:
        raise PruneRefused(f"{len(bad)} request(s) in {folder} are invalid ({', '.join(bad[:5])}): nothing was pruned",
                           hint=f"check them with `spbe request validate {folder}/*.yaml`")
    return specs


def retention_of(spec: TenantSpec) -> tuple[int, str]:
    """(days, where the number comes from) for one tenant."""
    if spec.backup.retention_days:
        return spec.backup.retention_days, "the request"
    catalog = catalog_for(spec)
    return catalog.backup.retention_days, f"catalog {catalog.version}'s default"


def prune_due(settings: StoreSettings, folder: Path, progress: Callable[[str], None] = lambda _: None) -> list[Pruned]:
    """Prune every tenant in the store that has a request in ``folder`` by that request's retention."""
    specs = _requests(folder)
    out: list[Pruned] = []
    for tenant in operations.tenants_in_store(settings):
        spec = specs.get(tenant)
        if spec is None:
            out.append(Pruned(tenant, "kept", None, f"no request for it in {folder}: left as it is"))
            continue
        days, source = retention_of(spec)
        progress(f"{tenant}: pruning backups older than {days} days ({source}) ...")
        result = operations.prune(settings, tenant, days)
        out.append(Pruned(tenant, "pruned", days, source, result.get("removed", 0), result.get("versionsPurged", 0)))
    return out
