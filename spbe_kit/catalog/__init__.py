"""The baseline catalog: what every tenant gets, versioned."""

from spbe_kit.catalog.load import available_versions, latest_version, load_catalog
from spbe_kit.catalog.model import Catalog

__all__ = ["Catalog", "available_versions", "latest_version", "load_catalog"]
