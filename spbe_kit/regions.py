"""The official list of regions (Kepmendagri 300.2.2-2138/2025) and the naming conventions around it.

Jakarta's kabupaten/kota administrasi are listed by Kemendagri but are not autonomous
pemda: they have no own budget or DPRD, and their SPBE services are run by Provinsi DKI
Jakarta. spbe-kit therefore does not make them tenants (product decision, see README).
"""

from __future__ import annotations

import csv
import enum
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from spbe_kit.errors import RegionError


class Level(str, enum.Enum):
    """Level of a pemda."""

    PROVINSI = "provinsi"
    KABUPATEN = "kabupaten"
    KOTA = "kota"


ADMINISTRATIVE_PREFIXES = ("Kabupaten Administrasi ", "Kota Administrasi ")
CODE_PATTERN = re.compile(r"^\d{2}(\.\d{2})?$")
_LEADING_WORDS = ("provinsi ", "kabupaten ", "kota ", "administrasi ", "kab. ", "kab ")


@dataclass(frozen=True)
class Region:
    """One row of wilayah.csv."""

    code: str
    name: str
    level: Level
    province: str

    @property
    def is_administrative(self) -> bool:
        """True for Jakarta's administrative kabupaten/kota, which are not autonomous pemda."""
        return self.name.startswith(ADMINISTRATIVE_PREFIXES)

    @property
    def short_name(self) -> str:
        """The name without its level word: 'Kabupaten Banyuwangi' -> 'Banyuwangi'."""
        name = self.name
        for prefix in ADMINISTRATIVE_PREFIXES + ("Kabupaten ", "Kota ", "Provinsi "):
            if name.startswith(prefix):
                return name[len(prefix):]
        return name

    @property
    def tenant_id(self) -> str:
        """Conventional tenant id: 'kab-banyuwangi', 'kota-bandung', 'prov-jawa-timur'."""
        prefix = {Level.PROVINSI: "prov", Level.KABUPATEN: "kab", Level.KOTA: "kota"}[self.level]
        slug = re.sub(r"[^a-z0-9]+", "-", self.short_name.lower()).strip("-")
        return f"{prefix}-{slug}"[:63].rstrip("-")

    @property
    def conventional_domain(self) -> str:
        """The usual .go.id domain: banyuwangikab.go.id, bandungkota.go.id, jawatimurprov.go.id."""
        suffix = {Level.PROVINSI: "prov", Level.KABUPATEN: "kab", Level.KOTA: "kota"}[self.level]
        slug = re.sub(r"[^a-z0-9]+", "", self.short_name.lower())
        return f"{slug}{suffix}.go.id"


def normalise_name(name: str) -> str:
    """Compare names tolerantly: case, spacing, punctuation and a leading level word don't matter."""
    text = re.sub(r"\s+", " ", name.strip().casefold())
    changed = True
    while changed:
        changed = False
        for word in _LEADING_WORDS:
            if text.startswith(word):
                text = text[len(word):]
                changed = True
    return re.sub(r"[^a-z0-9]", "", text.replace("kep.", "kepulauan"))


@lru_cache(maxsize=1)
def all_regions() -> dict[str, Region]:
    """Every region by code, read once from the packaged wilayah.csv."""
    text = resources.files("spbe_kit.data").joinpath("wilayah.csv").read_text(encoding="utf-8")
    regions = {}
    for row in csv.DictReader(text.splitlines()):
        regions[row["code"]] = Region(
            code=row["code"], name=row["name"], level=Level(row["level"]), province=row["province"]
        )
    return regions


def find_region(code: str) -> Region:
    """The region with this Kemendagri code, or RegionError with a hint."""
    if not CODE_PATTERN.match(code):
        raise RegionError(
            f"{code!r} is not a Kemendagri region code",
            'use NN for a provinsi or NN.NN for a kabupaten/kota, e.g. "35.10"',
        )
    region = all_regions().get(code)
    if region is None:
        raise RegionError(
            f"region code {code} is not in the official list (Kepmendagri 300.2.2-2138/2025)",
            "look the code up in the Kemendagri list; kota codes start at 71 (e.g. 35.78 Kota Surabaya)",
        )
    return region
