"""An OCI image (one layer) written byte-for-byte the same from the same root filesystem tar.

The layout follows the OCI image-layout spec: ``oci-layout``, ``index.json`` and content-
addressed ``blobs/sha256/*``; the archive a data center loads (``skopeo copy
oci-archive:IMAGE.tar docker://MIRROR/...``) is that directory as a tar. Every timestamp is
the build's epoch, gzip carries no name or time, and tar entries are sorted with numeric
owners, so the manifest digest, which the catalog pins, depends on the inputs only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class ImageConfig:
    """What the runtime needs: user, entrypoint, environment, ports, writable paths."""

    user: str
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    volumes: tuple[str, ...] = ()
    workdir: str = "/"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def to_json(self, annotations: dict[str, str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if annotations:
            body["annotations"] = annotations
        return body


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Layout:
    """An OCI image layout directory being written."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(self, media_type: str, data: bytes) -> Descriptor:
        digest = hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / "sha256" / digest).write_bytes(data)
        return Descriptor(media_type, f"sha256:{digest}", len(data))

    def put_file(self, media_type: str, path: Path) -> Descriptor:
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha.update(chunk)
        target = self.root / "blobs" / "sha256" / sha.hexdigest()
        path.replace(target)
        return Descriptor(media_type, f"sha256:{sha.hexdigest()}", target.stat().st_size)


def compress_layer(rootfs_tar: Path, out: Path) -> str:
    """Gzip ``rootfs_tar`` into ``out`` without name or time; returns the diff id (sha256 of the tar)."""
    sha = hashlib.sha256()
    with rootfs_tar.open("rb") as src, out.open("wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            sha.update(chunk)
            gz.write(chunk)
    return f"sha256:{sha.hexdigest()}"


def write_image(root: Path, rootfs_tar: Path, config: ImageConfig, epoch: int, ref_name: str,
                annotations: dict[str, str]) -> Descriptor:
    """Write the layout at ``root`` from one root filesystem tar; returns the manifest descriptor."""
    layout = Layout(root)
    staged = root / "layer.tar.gz.partial"
    diff_id = compress_layer(rootfs_tar, staged)
    layer = layout.put_file(LAYER, staged)
    created = _iso(epoch)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "User": config.user,
            "Entrypoint": list(config.entrypoint),
            **({"Cmd": list(config.cmd)} if config.cmd else {}),
            "Env": list(config.env),
            "ExposedPorts": {f"{p}/tcp": {} for p in config.ports},
            "Volumes": {v: {} for v in config.volumes},
            "WorkingDir": config.workdir,
            "Labels": dict(config.labels),
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "spbe images build (mmdebstrap)"}],
    }
    config_desc = layout.put(CONFIG, _canonical(image_config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config_desc.to_json(),
        "layers": [layer.to_json()],
        "annotations": {"org.opencontainers.image.created": created, **annotations},
    }
    manifest_desc = layout.put(MANIFEST, _canonical(manifest))
    index = {"schemaVersion": 2, "mediaType": INDEX,
             "manifests": [manifest_desc.to_json({"org.opencontainers.image.ref.name": ref_name})]}
    (root / "index.json").write_bytes(_canonical(index))
    return manifest_desc


def archive(layout_dir: Path, out: Path, epoch: int) -> None:
    """The layout as an OCI archive: sorted entries, numeric root owner, the build's epoch."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in layout_dir.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(layout_dir)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = epoch
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)


def read_manifest_digest(archive_path: Path) -> str:
    """The manifest digest recorded in an OCI archive's index (what a registry serves it as)."""
    with tarfile.open(archive_path) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        index = json.load(io.TextIOWrapper(member))
    return index["manifests"][0]["digest"]
