"""The OCI writer and SBOM reader: byte-identical output from identical input, and every package listed."""

import hashlib
import io
import json
import tarfile
from pathlib import Path

from spbe_kit.images import oci, sbom
from spbe_kit.images.recipes import RECIPES, UID

EPOCH = 1764547200


def _rootfs_tar(path: Path, content: bytes = b"hello") -> Path:
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("etc/motd")
        info.size, info.mtime = len(content), EPOCH
        tar.addfile(info, io.BytesIO(content))
    return path


CONFIG = oci.ImageConfig(user="10001:10001", entrypoint=("/bin/true",), env=("PATH=/bin",), ports=(8080,),
                         volumes=("/tmp",))


def _image(tmp: Path, name: str, content: bytes = b"hello") -> tuple[oci.Descriptor, Path]:
    layout = tmp / f"{name}-layout"
    desc = oci.write_image(layout, _rootfs_tar(tmp / f"{name}.tar", content), CONFIG, EPOCH, "1.0", {"a": "b"})
    archive = tmp / f"{name}.oci.tar"
    oci.archive(layout, archive, EPOCH)
    return desc, archive


def test_same_input_same_bytes_and_digest(tmp_path):
    first, a = _image(tmp_path, "one")
    second, b = _image(tmp_path, "two")
    assert first.digest == second.digest
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert oci.read_manifest_digest(a) == first.digest
    changed, _ = _image(tmp_path, "three", b"hello!")
    assert changed.digest != first.digest


def test_layout_is_a_valid_oci_image(tmp_path):
    desc, archive = _image(tmp_path, "img")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert {"oci-layout", "index.json"} <= set(names)
        index = json.load(tar.extractfile("index.json"))
        manifest_bytes = tar.extractfile(f"blobs/sha256/{desc.digest.split(':')[1]}").read()
        manifest = json.loads(manifest_bytes)
        config = json.load(tar.extractfile(f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}"))
        for member in tar.getmembers():
            assert member.mtime == EPOCH and member.uid == 0
    assert "sha256:" + hashlib.sha256(manifest_bytes).hexdigest() == desc.digest
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "1.0"
    assert manifest["layers"][0]["mediaType"] == oci.LAYER
    assert config["config"]["User"] == "10001:10001"
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert config["rootfs"]["diff_ids"][0] == "sha256:" + hashlib.sha256((tmp_path / "img.tar").read_bytes()).hexdigest()


def test_sbom_lists_every_installed_package_and_nothing_removed(tmp_path):
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    status.write_text(
        "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.17-1~deb12u2\n"
        "Description: x\n more text: here\n\n"
        "Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n\n"
        "Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 1:2025b-0+deb12u1\n")
    packages = sbom.dpkg_packages(tmp_path)
    assert [(p.name, p.version) for p in packages] == [("libssl3", "3.0.17-1~deb12u2"), ("tzdata", "1:2025b-0+deb12u1")]
    assert packages[1].purl == "pkg:deb/debian/tzdata@1%3A2025b-0+deb12u1?arch=all&distro=debian-12"
    doc = sbom.document("spbe/x", "1.0", "abc", EPOCH, packages)
    assert doc["spdxVersion"] == "SPDX-2.3" and len(doc["packages"]) == 3
    assert len(doc["relationships"]) == 2 and doc["creationInfo"]["created"] == "2025-12-01T00:00:00Z"


def test_every_recipe_runs_as_the_baseline_user_on_unprivileged_ports_with_declared_writable_paths():
    for recipe in RECIPES.values():
        assert recipe.config.user == f"{UID}:{UID}", recipe.name
        assert all(port >= 1024 for port in recipe.config.ports), recipe.name
        assert recipe.config.volumes == recipe.writable, recipe.name
        for artifact in recipe.artifacts:
            assert len(artifact.sha256) == 64, f"{recipe.name}: {artifact.purl} is not pinned"
