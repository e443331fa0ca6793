"""The official region list, naming conventions, and `request new` scaffolds that validate as is."""

from __future__ import annotations

from collections import Counter

import pytest

from spbe_kit.errors import RegionError
from spbe_kit.regions import Level, all_regions, find_region, normalise_name
from spbe_kit.request import Tier, parse_request
from spbe_kit.request.rules import DNS_LABEL
from spbe_kit.scaffold import new_request


def test_the_list_has_every_pemda_of_the_2025_decree():
    regions = all_regions()
    assert len(regions) == 552
    assert Counter(r.level for r in regions.values()) == {Level.PROVINSI: 38, Level.KABUPATEN: 416, Level.KOTA: 98}
    assert sum(r.is_administrative for r in regions.values()) == 6


def test_kota_numbers_start_at_71():
    for region in all_regions().values():
        if region.level is Level.KOTA:
            assert int(region.code.split(".")[1]) >= 71, region
        elif region.level is Level.KABUPATEN:
            assert int(region.code.split(".")[1]) < 71, region


def test_conventional_names_are_unique_dns_labels():
    autonomous = [r for r in all_regions().values() if not r.is_administrative]
    ids = [r.tenant_id for r in autonomous]
    assert len(set(ids)) == len(ids)
    assert all(DNS_LABEL.match(i) for i in ids)
    assert find_region("35.10").tenant_id == "kab-banyuwangi"
    assert find_region("35.10").conventional_domain == "banyuwangikab.go.id"
    assert find_region("32.73").conventional_domain == "bandungkota.go.id"
    assert find_region("35").tenant_id == "prov-jawa-timur"


def test_unknown_and_malformed_codes_raise_region_errors():
    with pytest.raises(RegionError, match="not in the official list"):
        find_region("99.99")
    with pytest.raises(RegionError, match="not a Kemendagri region code"):
        find_region("35.1")


def test_name_comparison_ignores_case_spacing_and_level_words():
    assert normalise_name("Provinsi  Jawa Timur") == normalise_name("jawa timur")
    assert normalise_name("Kab. Kep. Seribu") == normalise_name("Kepulauan Seribu")
    assert normalise_name("Kota Bandung") != normalise_name("Kabupaten Bandung Barat")


def test_every_autonomous_region_scaffolds_a_valid_request(catalog):
    checked = 0
    for region in all_regions().values():
        if region.is_administrative:
            continue
        spec = parse_request(new_request(region.code, catalog))
        assert spec.pemda.region_code == region.code and spec.tenant_id == region.tenant_id
        assert spec.domain == region.conventional_domain
        checked += 1
    assert checked == 546


def test_scaffold_respects_the_tier_and_catalog_backup_defaults(catalog):
    text = new_request("35.10", catalog, Tier.SMALL)
    spec = parse_request(text)
    assert spec.tier is Tier.SMALL
    assert spec.backup.retention_days == catalog.backup.retention_days
    assert f"catalog {catalog.version}" in text


def test_administrative_regions_are_pointed_at_the_province(catalog):
    with pytest.raises(RegionError, match="administrative") as info:
        new_request("31.71", catalog)
    assert "--region 31" in info.value.hint
