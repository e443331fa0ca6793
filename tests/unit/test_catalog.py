"""The baseline catalog: pinned images, mirror override, tiers that can hold their baseline."""

from __future__ import annotations

import dataclasses

import pytest

from spbe_kit.catalog import available_versions, load_catalog
from spbe_kit.catalog.load import check_catalog
from spbe_kit.catalog.quantity import parse_quantity
from spbe_kit.errors import CatalogError
from spbe_kit.request import Tier


def test_versions_are_listed_and_the_newest_is_the_default():
    assert "2026.11" in available_versions()
    assert load_catalog().version == available_versions()[-1]


def test_an_unknown_version_is_a_catalog_error():
    with pytest.raises(CatalogError, match="not shipped") as info:
        load_catalog("1999.01")
    assert "2026.11" in info.value.hint


def test_every_image_is_pinned_by_digest(catalog):
    for name in catalog.images:
        ref = catalog.image(name)
        assert "@sha256:" in ref and len(ref.split("@sha256:")[1]) == 64, name


def test_a_mirror_replaces_every_registry():
    mirrored = load_catalog(registry="mirror.pdn.go.id")
    for name, image in mirrored.images.items():
        assert mirrored.image(name).startswith(f"mirror.pdn.go.id/{image.repository}:"), name
        assert mirrored.image(name).endswith(image.digest)
    assert load_catalog().image("postgres").startswith("registry.pdn.go.id/")  # the cached default is untouched


def test_mirror_from_the_environment(monkeypatch):
    monkeypatch.setenv("SPBE_REGISTRY", "registry.local:5000")
    assert load_catalog().image("keycloak").startswith("registry.local:5000/spbe/keycloak:")


def test_tiers_grow_monotonically(catalog):
    for key in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "requests.storage"):
        sizes = [parse_quantity(catalog.tiers[t].quota[key]) for t in (Tier.SMALL, Tier.MEDIUM, Tier.LARGE)]
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1], key


def test_a_quota_too_small_for_the_baseline_is_refused(catalog):
    small = catalog.tiers[Tier.SMALL]
    shrunk = small.model_copy(update={"quota": {**small.quota, "requests.memory": "1Gi"}})
    broken = catalog.model_copy(update={"tiers": {**catalog.tiers, Tier.SMALL: shrunk}})
    with pytest.raises(CatalogError, match="requests.memory"):
        check_catalog(broken)


@pytest.mark.parametrize("text, value", [("250m", 0.25), ("1.5", 1.5), ("768Mi", 768 * 2**20), ("2Gi", 2 * 2**30), ("1k", 1000)])
def test_quantities(text, value):
    assert float(parse_quantity(text)) == value


def test_bad_quantities_are_refused():
    with pytest.raises(ValueError):
        parse_quantity("1.5 GB")


def test_the_baselines_own_images_are_pinned_to_real_builds_and_run_read_only():
    """2026.12 on: the images with a recipe are built here; the identity pod starts prebuilt and read-only."""
    from spbe_kit.images.recipes import RECIPES

    new = load_catalog("2026.12")
    own = {name: image for name, image in new.images.items() if image.recipe}
    assert set(own) == set(new.images) == {"keycloak", "postgres", "prometheus", "dashboards", "mail", "eoffice"}
    for name, image in own.items():
        assert image.recipe in RECIPES and not image.placeholder, name
        assert image.digest != "sha256:" + "0" * 64, name
        assert image.tag == RECIPES[image.recipe].tag, name
    # a tenant still on 2026.11 keeps the upstream Keycloak and the way it has to run
    assert not load_catalog("2026.11").images["keycloak"].baseline_build


def test_no_catalog_version_holds_a_placeholder():
    """2026.11's mail and e-office placeholders are filled with the pipeline's builds (the pins are checked
    against real builds in tests/images)."""
    for version in available_versions():
        for name, image in load_catalog(version).images.items():
            assert not image.placeholder and image.digest != "sha256:" + "0" * 64, f"{version}: {name}"
    old, new = load_catalog("2026.11"), load_catalog("2026.12")
    assert old.images["mail"] == new.images["mail"] and old.images["eoffice"] == new.images["eoffice"]


@pytest.mark.parametrize("version, dashboards", [("2026.11", "grafana"), ("2026.12", "dashboards")])
def test_a_catalog_names_exactly_one_dashboards_image_with_a_size_in_every_tier(version, dashboards):
    from spbe_kit.catalog.load import dashboards_image

    catalog = load_catalog(version)
    assert dashboards_image(catalog) == dashboards
    assert all(dashboards in tier.workloads for tier in catalog.tiers.values())
    both = catalog.model_copy(update={"images": {**catalog.images, "grafana": catalog.images[dashboards],
                                                 "dashboards": catalog.images[dashboards]}})
    with pytest.raises(CatalogError, match="grafana or dashboards"):
        check_catalog(both)
    neither = catalog.model_copy(update={"images": {k: v for k, v in catalog.images.items() if k != dashboards}})
    with pytest.raises(CatalogError, match="grafana or dashboards"):
        check_catalog(neither)


@pytest.mark.parametrize("version", available_versions())
@pytest.mark.parametrize("tier", ["small", "medium", "large"])
def test_every_volume_of_every_tier_has_a_size_in_every_catalog(version, tier):
    """A claim without a size is refused by the API server: catalog 2026.11 once gave e-office's none, so no
    2026.11 tenant with e-office could be created (found by the fleet rollout's integration test)."""
    from spbe_kit.desired import desired_state
    from spbe_kit.request import load_request
    from tests.conftest import ROOT

    spec = load_request(ROOT / "examples" / "kab-banyuwangi.yaml")
    spec = dataclasses.replace(spec, tier=Tier(tier))
    claims = [m for m in desired_state(spec, load_catalog(version)).manifests if m.kind == "PersistentVolumeClaim"]
    assert claims
    for claim in claims:
        size = claim.body["spec"]["resources"]["requests"]["storage"]
        assert size and parse_quantity(size) > 0, f"{version} {tier}: {claim.name} has no size"
