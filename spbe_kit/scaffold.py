"""Scaffold a correct tenant request for a region, from the official list and the catalog."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from spbe_kit.catalog.model import Catalog
from spbe_kit.errors import RegionError
from spbe_kit.regions import find_region
from spbe_kit.request.model import Tier

_ENV = Environment(
    loader=PackageLoader("spbe_kit", "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # YAML, not HTML; every value comes from the official list or the catalog
)


def new_request(region_code: str, catalog: Catalog, tier: Tier = Tier.MEDIUM, out_file: str | None = None) -> str:
    """The text of a request for this region that validates as is.

    ``out_file``: where it will be written; its comment then says how to validate that file.
    Without one (stdout) the comment says to save it first, naming the conventional file name.
    """
    region = find_region(region_code)
    if region.is_administrative:
        raise RegionError(
            f"{region.code} is {region.name}, an administrative region of DKI Jakarta, not an autonomous pemda",
            'request the provincial tenant instead: spbe request new --region 31',
        )
    domain = region.conventional_domain
    return _ENV.get_template("request.yaml.j2").render(
        region=region,
        domain=domain,
        tier=tier.value,
        contact_name="Bidang Aplikasi Informatika",
        contact_email=f"aptika@{domain}",
        backup_schedule=catalog.backup.schedule,
        retention_days=catalog.backup.retention_days,
        catalog_version=catalog.version,
        out_file=out_file,
        file_hint=f"{region.tenant_id}.yaml",
    )
