"""Images the real node needs and how they get into its containerd, with no registry anywhere.

* ``pause`` -- every pod's sandbox: Debian's ``catatonit -P``, built by the kit's image builder
  (kubelet asks for ``registry.k8s.io/pause:3.10`` by name; containerd is told to use it).
* ``coredns`` -- the cluster's DNS, one static Go binary (built from the Go module proxy
  like the control plane) in an image of its own.
* the baseline images of every catalog version whose pinned digest is the one built here
  (``spbe images build``), imported under ``registry/repository:tag`` and tagged
  ``registry/repository@sha256:...`` because the pods name them by digest.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.errors import ClusterError
from spbe_kit.images import oci
from spbe_kit.images.recipes import Recipe, _config

PAUSE_REF = "registry.k8s.io/pause:3.10"
COREDNS_REF = "spbe.local/coredns:{version}"

Progress = Callable[[str], None]

PAUSE = Recipe(
    name="pause",
    repository="spbe-local/pause",
    summary="pod sandbox of the local cluster's real node: catatonit -P (Debian)",
    packages=("catatonit",),
    config=_config(("/usr/bin/catatonit", "-P"), (), ()),
)


@dataclass(frozen=True)
class NodeImage:
    """One image to load: its archive and the names pods and containerd use for it."""

    archive: Path
    reference: str       # imported under this name
    digest: str          # manifest digest
    aliases: tuple[str, ...] = ()  # further names (repo@digest)


def binary_image(binary: Path, reference: str, out_dir: Path, args: tuple[str, ...] = ()) -> NodeImage:
    """An OCI archive holding one static binary at /<name>, run as 65532; cached by the binary's mtime/size."""
    out_dir.mkdir(parents=True, exist_ok=True)
    st = binary.stat()
    archive = out_dir / f"{binary.name}-{int(st.st_mtime)}-{st.st_size}.oci.tar"
    if not archive.is_file():
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            work = Path(tmp)
            layer = work / "rootfs.tar"
            with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
                info = tar.gettarinfo(str(binary), arcname=binary.name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                info.mode = 0o755
                with binary.open("rb") as fh:
                    tar.addfile(info, fh)
            config = oci.ImageConfig(user="65532:65532", entrypoint=(f"/{binary.name}",), cmd=args)
            tag = reference.rsplit(":", 1)[1]
            oci.write_image(work / "layout", layer, config, 0, tag, {"org.opencontainers.image.title": binary.name})
            partial = archive.with_suffix(".partial")
            oci.archive(work / "layout", partial, 0)
            partial.replace(archive)
    return NodeImage(archive, reference, oci.read_manifest_digest(archive))


def baseline_images(progress: Progress) -> list[NodeImage]:
    """Every catalog image whose pinned digest is one of this machine's builds (built if missing)."""
    from spbe_kit.catalog.load import available_versions, load_catalog
    from spbe_kit.images.build import build_all

    built = {b.digest: b for b in build_all(None, progress)}
    found: dict[str, NodeImage] = {}
    for version in available_versions():
        catalog = load_catalog(version)
        for image in catalog.images.values():
            match = built.get(image.digest)
            if match is None:
                progress(f"catalog {version}: {image.repository}@{image.digest[:19]} is not built here; "
                         "its pods will not start on the real node")
                continue
            repo = f"{image.registry}/{image.repository}"
            by_digest = f"{repo}@{image.digest}"
            if by_digest not in found:
                tagged = f"{repo}:{image.tag}" if image.tag == match.tag else by_digest
                found[by_digest] = NodeImage(Path(match.archive), tagged, image.digest, (by_digest,))
    return list(found.values())


def _ctr(socket: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ctr", "--address", str(socket), "-n", "k8s.io", *args],
                          capture_output=True, text=True)


def loaded(socket: Path) -> set[str]:
    proc = _ctr(socket, "images", "ls", "-q")
    if proc.returncode != 0:
        raise ClusterError(f"cannot list the real node's images: {proc.stderr.strip()}")
    return set(proc.stdout.split())


def load(socket: Path, images: list[NodeImage], progress: Progress) -> int:
    """Import the images containerd does not have yet (by every name); returns how many were imported."""
    have = loaded(socket)
    imported = 0
    for image in images:
        names = (image.reference, *image.aliases)
        if all(n in have for n in names):
            continue
        progress(f"loading {image.reference} into the real node's containerd ...")
        # --base-name names the image <repository>:<the archive's ref.name> at once: no
        # `import-<date>` name, which the CRI plugin would remember for the image and then miss
        repo, _, _ = image.reference.rpartition(":")
        proc = _ctr(socket, "images", "import", "--base-name", repo, str(image.archive))
        if proc.returncode != 0:
            raise ClusterError(f"importing {image.archive.name} failed: {proc.stderr.strip()}")
        imported_as = f"{repo}:{_ref_name(image.archive)}"
        for alias in (image.reference, *image.aliases):
            if alias == imported_as:
                continue
            proc = _ctr(socket, "images", "tag", "--force", imported_as, alias)
            if proc.returncode != 0:
                raise ClusterError(f"tagging {alias} failed: {proc.stderr.strip()}")
        imported += 1
    # ctr leaves an `import-<date>:<tag>` name behind; the CRI cache keys images by config digest
    # and would show that name first, so remove it
    strays = [n for n in loaded(socket) if n.startswith("import-")]
    if strays:
        _ctr(socket, "images", "rm", *strays)
    return imported


def _ref_name(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        index = json.loads(member.read()) if member else {}
    return index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]


def manifest_digest_of(socket: Path, reference: str) -> str | None:
    proc = _ctr(socket, "images", "ls", f"name=={reference}")
    lines = proc.stdout.splitlines()[1:]
    return lines[0].split()[2] if lines else None


def _in_registry(addr: str, repository: str, digest: str) -> bool:
    req = urllib.request.Request(f"http://{addr}/v2/{repository}/manifests/{digest}", method="HEAD")
    req.add_header("Accept", "application/vnd.oci.image.manifest.v1+json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def mirror(socket: Path, images: list[NodeImage], registry: str, addr: str, progress: Progress) -> int:
    """Push the images of ``registry`` to the mirror at ``addr`` (plain HTTP); returns how many were pushed."""
    pushed = 0
    for image in images:
        if not image.reference.startswith(registry + "/"):
            continue
        name = image.reference[len(registry) + 1:]
        repository = name.split("@", 1)[0].rsplit(":", 1)[0]
        if _in_registry(addr, repository, image.digest):
            continue
        progress(f"pushing {name} to the registry mirror {addr} ...")
        proc = _ctr(socket, "images", "push", "--plain-http", f"{addr}/{name}", image.reference)
        if proc.returncode != 0 or not _in_registry(addr, repository, image.digest):
            raise ClusterError(f"pushing {name} to the registry mirror failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
        pushed += 1
    return pushed
