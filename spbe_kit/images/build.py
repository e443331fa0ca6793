"""Building a baseline image: mmdebstrap root filesystem -> hardening -> SBOM -> OCI archive.

Reproducible: the root filesystem is installed with SOURCE_DATE_EPOCH fixed, per-build
secrets and data (snakeoil keys, default clusters) are removed, jar/zip timestamps are
normalised (Debian's strip-nondeterminism), the tar is written sorted with every time clamped
to the epoch, and the OCI layout is canonical JSON. The same inputs (recipe, files, package
versions, artifact checksums) give the same manifest digest; ``build.json`` records them.
Results are cached under the cache directory by input hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from spbe_kit.errors import SpbeError
from spbe_kit.images import oci, sbom
from spbe_kit.images.artifacts import PythonPin, fetch, read_lock, stage_wheels
from spbe_kit.images.recipes import MIRRORS, RECIPES, SUITE, UID, Recipe
from spbe_kit.paths import cache_dir

#: 2025-12-01T00:00:00Z: no file time in any image is later (SOURCE_DATE_EPOCH)
EPOCH = 1764547200
#: changes to how images are put together (not to what goes in) bump this
BUILDER_VERSION = "1"

Progress = Callable[[str], None]
#: files only the build needs inside the image (the build machine's CA bundle); never in an image
BUILD_ONLY = "/.spbe-build"


class ImageBuildError(SpbeError):
    """An image could not be built."""

    exit_code = 1


@dataclass(frozen=True)
class BuiltImage:
    """One built image and what went into it."""

    name: str
    repository: str
    tag: str
    digest: str
    archive: str
    sbom: str
    input_hash: str
    size: int                 # compressed layer + config + manifest, what a registry stores
    unpacked_size: int        # the root filesystem
    packages: int             # entries in the SBOM
    build_seconds: float
    debian_packages: dict[str, str]
    artifacts: dict[str, str]  # purl -> sha256
    cached: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def images_dir() -> Path:
    return cache_dir() / "images"


def _files_root(recipe: Recipe) -> Path | None:
    root = Path(str(resources.files("spbe_kit.images") / "files" / recipe.name))
    return root if root.is_dir() else None


def _lock_path(recipe: Recipe) -> Path | None:
    if not recipe.python_lock:
        return None
    return Path(str(resources.files("spbe_kit.images") / "locks" / recipe.python_lock))


def input_hash(recipe: Recipe) -> str:
    """What decides the image: the recipe, its files, the builder. (Package versions are recorded after.)"""
    sha = hashlib.sha256()
    fields = asdict(recipe)
    if fields["version"] is None:  # images of the first release hash as they did before the field existed
        del fields["version"]
    sha.update(json.dumps(fields, sort_keys=True, default=str).encode())
    lock = _lock_path(recipe)
    if lock:
        sha.update(lock.read_bytes())
        sha.update(lock.with_name("build-backend.txt").read_bytes())
    sha.update(f"{BUILDER_VERSION}/{EPOCH}/{SUITE}/{MIRRORS}".encode())
    root = _files_root(recipe)
    for path in sorted(root.rglob("*")) if root else []:
        if path.is_file():
            sha.update(str(path.relative_to(root)).encode())
            sha.update(oct(path.stat().st_mode & 0o777).encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()


def _run(cmd: list[str], what: str, log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text().splitlines()[-15:]
        raise ImageBuildError(f"{what} failed (exit {proc.returncode}); log: {log}\n  " + "\n  ".join(tail))


def _stage_artifacts(recipe: Recipe, stage: Path, downloads: Path) -> None:
    for artifact in recipe.artifacts:
        path = fetch(artifact, downloads)
        target = stage / artifact.unpack_to.lstrip("/")
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.startswith(artifact.member_prefix) or info.is_dir():
                    continue
                rel = info.filename[len(artifact.member_prefix):]
                out = target / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, out.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                mode = (info.external_attr >> 16) & 0o777
                out.chmod(mode or 0o644)


def _mmdebstrap(recipe: Recipe, rootfs: Path, stage: Path, log: Path) -> None:
    hooks = [f'cp -a {stage}/. "$1"/'] if any(stage.iterdir()) else []
    hooks += [f'chroot "$1" /bin/sh -ec {_sh_quote(cmd)}' for cmd in recipe.run_in_image]
    cmd = ["mmdebstrap", "--mode=root", "--variant=essential", "--format=directory", "--skip=output/dev",
           "--include=" + ",".join(recipe.packages),
           "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/info/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
           "--dpkgopt=path-include=/usr/share/doc/*/copyright",
           *[f"--customize-hook={h}" for h in hooks],
           SUITE, str(rootfs), *_mirror_lines()]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH), "LC_ALL": "C.UTF-8"}
    _run(cmd, f"installing the Debian packages of {recipe.name}", log, env)


def _mirror_lines() -> list[str]:
    lines = []
    for mirror in MIRRORS:
        url, _, suite = mirror.partition(" ")
        lines.append(f"deb {url} {suite or SUITE} main")
    return lines


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _harden(recipe: Recipe, rootfs: Path) -> None:
    """The runtime user, writable mount points, and nothing per-build left behind."""
    for rel in recipe.remove:
        path = rootfs / rel.lstrip("/")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    for db, line in (("passwd", f"spbe:x:{UID}:{UID}:SPBE baseline:/nonexistent:/usr/sbin/nologin"),
                     ("group", f"spbe:x:{UID}:")):
        path = rootfs / "etc" / db
        text = path.read_text()
        if f":{UID}:" not in text:
            path.write_text(text + line + "\n")
    shutil.rmtree(rootfs / BUILD_ONLY.lstrip("/"), ignore_errors=True)
    for leftover in (rootfs / "tmp").iterdir() if (rootfs / "tmp").is_dir() else []:  # build-time only
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    for rel in recipe.writable:
        path = rootfs / rel.lstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, UID, UID)
        path.chmod(0o1777 if rel == "/tmp" else 0o770)
    # caches and logs of the install that differ per run
    for rel in ("var/cache/ldconfig/aux-cache", "var/log/dpkg.log", "var/log/apt", "var/log/alternatives.log",
                "var/cache/debconf/templates.dat-old", "var/cache/debconf/config.dat-old",
                "var/lib/dpkg/status-old", "var/lib/dpkg/diversions-old", "etc/machine-id", "var/lib/dbus/machine-id"):
        path = rootfs / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _strip_nondeterminism(rootfs: Path, log: Path) -> None:
    archives = [str(p) for p in rootfs.rglob("*") if p.suffix in (".jar", ".zip") and p.is_file() and not p.is_symlink()]
    for i in range(0, len(archives), 200):
        _run(["strip-nondeterminism", "--timestamp", str(EPOCH), *archives[i:i + 200]],
             "normalising jar timestamps", log)


def _tar_rootfs(rootfs: Path, out: Path) -> int:
    """The root filesystem as a sorted tar, times clamped to the epoch; returns its unpacked size."""
    size = 0
    hardlinks: dict[tuple[int, int], str] = {}
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted([*dirnames, *filenames]):
                path = Path(dirpath) / name
                arcname = str(path.relative_to(rootfs))
                st = path.lstat()
                info = tarfile.TarInfo(arcname)
                info.mode = stat.S_IMODE(st.st_mode)
                info.uid, info.gid = st.st_uid, st.st_gid
                info.mtime = min(int(st.st_mtime), EPOCH)
                if stat.S_ISLNK(st.st_mode):
                    info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
                    tar.addfile(info)
                elif stat.S_ISDIR(st.st_mode):
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif stat.S_ISREG(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if st.st_nlink > 1 and key in hardlinks:
                        info.type, info.linkname = tarfile.LNKTYPE, hardlinks[key]
                        tar.addfile(info)
                        continue
                    hardlinks[key] = arcname
                    info.size = st.st_size
                    size += st.st_size
                    with path.open("rb") as fh:
                        tar.addfile(info, fh)
                # sockets, fifos and device nodes have no place in an image
    return size


def _artifact_packages(recipe: Recipe, pins: list[PythonPin]) -> list[sbom.Package]:
    found = [sbom.Package(name=a.name, version=a.version, purl=a.purl, sha256=a.sha256,
                          supplier="Organization: Maven Central" if a.registry == "maven" else "Organization: PyPI")
             for a in recipe.artifacts]
    found += [sbom.Package(name=p.name, version=p.version, purl=f"pkg:pypi/{p.name}@{p.version}", sha256=p.sha256,
                           supplier="Organization: PyPI") for p in pins]
    return found


def build(recipe: Recipe, progress: Progress, rebuild: bool = False) -> BuiltImage:
    """Build one image (or return the cached build of the same inputs)."""
    digest_of_inputs = input_hash(recipe)
    out = images_dir() / f"{recipe.name}-{digest_of_inputs[:16]}"
    record = out / "build.json"
    if record.is_file() and not rebuild:
        data = json.loads(record.read_text())
        if Path(data["archive"]).is_file():
            return BuiltImage(**{**data, "cached": True})
    if os.geteuid() != 0:
        raise ImageBuildError("building images needs root (mmdebstrap --mode=root, chroot)",
                              hint="run `spbe images build` as root on the build machine")
    for tool in ("mmdebstrap", "strip-nondeterminism"):
        if shutil.which(tool) is None:
            raise ImageBuildError(f"{tool} is not installed", hint="apt-get install mmdebstrap strip-nondeterminism")
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "build.log"
    log.write_text("")
    with tempfile.TemporaryDirectory(prefix=f"spbe-image-{recipe.name}-", dir=images_dir()) as tmp:
        work = Path(tmp)
        stage, rootfs = work / "stage", work / "rootfs"
        stage.mkdir()
        files = _files_root(recipe)
        if files:
            shutil.copytree(files, stage, dirs_exist_ok=True, symlinks=True)
        # the build machine's trust store, for registry downloads run inside the image while it is built
        # (a proxy's CA may be in it); in a directory of its own, removed before the image is written
        host_ca = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
        if host_ca.is_file() and recipe.run_in_image:
            (stage / BUILD_ONLY.lstrip("/")).mkdir(parents=True, exist_ok=True)
            shutil.copy2(host_ca, stage / BUILD_ONLY.lstrip("/") / "ca.pem")
        if recipe.artifacts:
            progress(f"{recipe.name}: fetching {len(recipe.artifacts)} artifact(s)")
            _stage_artifacts(recipe, stage, cache_dir() / "downloads")
        pins: list[PythonPin] = []
        lock = _lock_path(recipe)
        if lock:
            progress(f"{recipe.name}: fetching {len(read_lock(lock))} PyPI packages pinned in {lock.name}")
            pins = stage_wheels(lock, cache_dir() / "downloads" / "pypi", stage / "opt" / "spbe-wheels", log)
        progress(f"{recipe.name}: installing {len(recipe.packages)} Debian package(s) and their dependencies")
        _mmdebstrap(recipe, rootfs, stage, log)
        _harden(recipe, rootfs)
        _strip_nondeterminism(rootfs, log)
        packages = sbom.dpkg_packages(rootfs)
        everything = packages + _artifact_packages(recipe, pins) + sbom.npm_packages(rootfs)
        document = sbom.document(f"{recipe.repository}", recipe.tag, digest_of_inputs[:16], EPOCH, everything)
        sbom_bytes = json.dumps(document, indent=1, sort_keys=True).encode()
        (rootfs / "usr/share/spbe").mkdir(parents=True, exist_ok=True)
        (rootfs / "usr/share/spbe/sbom.spdx.json").write_bytes(sbom_bytes)
        progress(f"{recipe.name}: writing the OCI image")
        layer_tar = work / "rootfs.tar"
        unpacked = _tar_rootfs(rootfs, layer_tar)
        layout = work / "layout"
        annotations = {"org.opencontainers.image.title": recipe.name, "org.opencontainers.image.version": recipe.tag,
                       "org.opencontainers.image.description": recipe.summary,
                       "org.opencontainers.image.vendor": "SPBE baseline (spbe-kit)",
                       "id.go.spbe.inputs": digest_of_inputs}
        manifest = oci.write_image(layout, layer_tar, recipe.config, EPOCH, recipe.tag, annotations)
        archive = out / f"{recipe.name}-{recipe.tag}.oci.tar"
        oci.archive(layout, archive, EPOCH)
        size = sum(p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir())
    (out / "sbom.spdx.json").write_bytes(sbom_bytes)
    built = BuiltImage(
        name=recipe.name, repository=recipe.repository, tag=recipe.tag, digest=manifest.digest,
        archive=str(archive), sbom=str(out / "sbom.spdx.json"), input_hash=digest_of_inputs, size=size,
        unpacked_size=unpacked, packages=len(everything), build_seconds=round(time.monotonic() - started, 1),
        debian_packages={p.name: p.version for p in packages}, artifacts={a.purl: a.sha256 for a in recipe.artifacts},
    )
    record.write_text(json.dumps(built.to_dict(), indent=1, sort_keys=True))
    for stale in images_dir().glob(f"{recipe.name}-*"):  # builds of older inputs, failed attempts
        if stale.is_dir() and stale != out and len(stale.name) == len(out.name):
            shutil.rmtree(stale, ignore_errors=True)
    return built


def build_all(names: list[str] | None, progress: Progress, rebuild: bool = False) -> list[BuiltImage]:
    """Build the named images (all when none are named)."""
    unknown = [n for n in names or [] if n not in RECIPES]
    if unknown:
        raise ImageBuildError(f"no image recipe named {', '.join(unknown)}", hint=f"known: {', '.join(RECIPES)}")
    return [build(RECIPES[n], progress, rebuild) for n in (names or list(RECIPES))]


def built_sbom(recipe: Recipe) -> Path | None:
    """The SBOM of the cached build of the recipe's current inputs (None when not built)."""
    path = images_dir() / f"{recipe.name}-{input_hash(recipe)[:16]}" / "sbom.spdx.json"
    return path if path.is_file() else None
