"""Find, read and check versions of the baseline catalog shipped with spbe-kit."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources

from pydantic import ValidationError
import yaml

from spbe_kit.catalog.model import Catalog
from spbe_kit.catalog.quantity import parse_quantity
from spbe_kit.errors import CatalogError

REQUIRED_IMAGES = ("keycloak", "postgres", "prometheus", "mail", "eoffice")
WORKLOADS = ("identity", "database", "database-backup", "mail", "eoffice", "prometheus")
STORAGE_WORKLOADS = ("database", "database-backup", "mail", "prometheus", "grafana")  # where present
#: what shows the dashboards, by catalog version: Grafana (up to 2026.11) or the baseline's own
#: `dashboards` image (2026.12 on: Prometheus console templates behind an OIDC login)
DASHBOARD_IMAGES = ("grafana", "dashboards")


def dashboards_image(catalog: Catalog) -> str:
    """The catalog's dashboards image (and workload) name."""
    return next(name for name in DASHBOARD_IMAGES if name in catalog.images)


def available_versions() -> list[str]:
    """Catalog versions shipped in this package, oldest first."""
    folder = resources.files("spbe_kit.catalog").joinpath("versions")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def latest_version() -> str:
    """The newest shipped catalog version."""
    return available_versions()[-1]


def load_catalog(version: str | None = None, registry: str | None = None) -> Catalog:
    """A checked catalog version (default: newest), with images from `registry` if given."""
    registry = registry or os.environ.get("SPBE_REGISTRY") or None
    return _load(version or latest_version()).with_registry(registry)


def backup_job_location(tenant_id: str, catalog_version: str | None) -> tuple[str, str]:
    """(namespace, name) of a tenant's backup CronJob and its Secret, under the catalog version recorded on its
    namespace (an unknown or missing version: the tenant's own namespace, as before 2027.01)."""
    try:
        catalog = _load(catalog_version) if catalog_version else None
    except CatalogError:
        catalog = None
    return catalog.backup.job_location(tenant_id) if catalog else (tenant_id, "database-backup")


def catalog_for(spec, version: str | None = None, registry: str | None = None) -> Catalog:
    """The catalog a tenant runs: the version its request pins (``spec.catalogVersion``), else ``version``,
    else the newest. A pin and a different ``version`` contradict each other: nothing is guessed."""
    pin = getattr(spec, "catalog_version", None)
    if pin and version and version != pin:
        raise CatalogError(
            f"tenant {spec.tenant_id} pins catalog {pin} in its request (spec.catalogVersion), not {version}",
            f"leave out --catalog-version, or change spec.catalogVersion in the request to {version}")
    if pin and pin not in available_versions():
        raise CatalogError(f"tenant {spec.tenant_id} pins catalog {pin} (spec.catalogVersion), which this spbe-kit "
                           "does not ship", "available: " + ", ".join(available_versions()))
    return load_catalog(pin or version, registry)


@lru_cache(maxsize=8)
def _load(version: str) -> Catalog:
    if version not in available_versions():
        raise CatalogError(
            f"catalog version {version!r} is not shipped with this spbe-kit",
            "available: " + ", ".join(available_versions()),
        )
    text = resources.files("spbe_kit.catalog").joinpath("versions", f"{version}.yaml").read_text("utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogError(f"catalog {version} is malformed at {where}: {first['msg']}") from None
    check_catalog(catalog)
    return catalog


def check_catalog(catalog: Catalog) -> None:
    """Refuse a catalog whose tiers cannot hold the baseline they promise."""
    if catalog.version not in available_versions() and catalog.version == "":
        raise CatalogError("catalog has no version")
    missing = [name for name in REQUIRED_IMAGES if name not in catalog.images]
    dashboards = [name for name in DASHBOARD_IMAGES if name in catalog.images]
    if len(dashboards) != 1:
        missing.append(" or ".join(DASHBOARD_IMAGES) + (" (only one)" if dashboards else ""))
    if catalog.backup.to_store and "backup" not in catalog.images:
        missing.append("backup (backup.destination is store)")
    if missing:
        raise CatalogError(f"catalog {catalog.version} has no image for: {', '.join(missing)}")
    for tier, spec in catalog.tiers.items():
        where = f"catalog {catalog.version}, tier {tier.value}"
        absent = [w for w in (*WORKLOADS, *dashboards) if w not in spec.workloads]
        if absent:
            raise CatalogError(f"{where}: no size for {', '.join(absent)}")
        try:
            _check_fits(spec)
        except ValueError as exc:
            raise CatalogError(f"{where}: {exc}") from None


def _check_fits(spec) -> None:
    # A rolling update briefly runs one extra pod per Deployment; backup jobs run beside everything.
    totals = {"requests.cpu": 0, "requests.memory": 0, "limits.cpu": 0, "limits.memory": 0}
    for size in spec.workloads.values():
        pods = size.replicas + 1
        totals["requests.cpu"] += parse_quantity(size.request.cpu) * pods
        totals["requests.memory"] += parse_quantity(size.request.memory) * pods
        totals["limits.cpu"] += parse_quantity(size.limit.cpu) * pods
        totals["limits.memory"] += parse_quantity(size.limit.memory) * pods
    for key, needed in totals.items():
        if key in spec.quota and needed > parse_quantity(spec.quota[key]):
            raise ValueError(f"the quota {key}={spec.quota[key]} is smaller than the baseline needs ({float(needed):.3g})")
    storage = sum(parse_quantity(size.storage or "0") for size in spec.workloads.values())
    if "requests.storage" in spec.quota and storage > parse_quantity(spec.quota["requests.storage"]):
        raise ValueError(f"the storage quota {spec.quota['requests.storage']} is smaller than the volumes need")
    for name in STORAGE_WORKLOADS:
        if name in spec.workloads and not spec.workloads[name].storage:
            raise ValueError(f"{name} needs a storage size")
