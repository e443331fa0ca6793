"""Fetching a recipe's artifacts from Maven Central and PyPI, verified against their pinned sha256."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from spbe_kit.errors import SpbeError
from spbe_kit.images.recipes import Artifact
from spbe_kit.evidence import file_sha256

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"


class ArtifactError(SpbeError):
    """An artifact could not be fetched, or is not the one the recipe pins."""

    exit_code = 1


def _maven_url(artifact: Artifact) -> str:
    # pkg:maven/<group>/<artifact>@<version>?type=<ext>
    coordinate = artifact.purl.removeprefix("pkg:maven/").split("?")[0]
    group_artifact, version = coordinate.split("@")
    group, name = group_artifact.rsplit("/", 1)
    return f"{MAVEN_CENTRAL}/{group.replace('.', '/')}/{name}/{version}/{artifact.filename}"


def fetch(artifact: Artifact, downloads: Path) -> Path:
    """The artifact's file in ``downloads`` (fetched once), refused unless its sha256 is the pinned one."""
    target = downloads / artifact.filename
    if not target.is_file() or file_sha256(target) != artifact.sha256:
        downloads.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=downloads) as tmp:
            staged = Path(tmp) / artifact.filename
            if artifact.registry == "maven":
                url = _maven_url(artifact)
                try:
                    with urllib.request.urlopen(url, timeout=300) as resp, staged.open("wb") as out:
                        while chunk := resp.read(1 << 20):
                            out.write(chunk)
                except OSError as exc:
                    raise ArtifactError(f"cannot fetch {url}: {exc}") from None
            else:
                spec = f"{artifact.name}=={artifact.version}"
                proc = subprocess.run(
                    [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                     "--platform", "manylinux_2_17_x86_64", "--python-version", "3.11", "--dest", tmp, spec],
                    capture_output=True, text=True)
                if proc.returncode != 0 or not staged.is_file():
                    raise ArtifactError(f"cannot fetch {spec} from PyPI: {proc.stderr.strip()[-500:]}")
            got = file_sha256(staged)
            if got != artifact.sha256:
                raise ArtifactError(f"{artifact.filename} has sha256 {got}, the recipe pins {artifact.sha256}",
                                    hint="a registry served different bytes under the same version: do not use it")
            staged.replace(target)
    return target


@dataclass(frozen=True)
class PythonPin:
    """One line of a lock file: a PyPI distribution, its version and the sha256 of the file served."""

    name: str
    version: str
    sha256: str


def read_lock(path: Path) -> list[PythonPin]:
    pins = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, digest = line.partition(" --hash=sha256:")
        name, _, version = spec.partition("==")
        if not (name and version and len(digest) == 64):
            raise ArtifactError(f"{path.name}: not a pinned line: {line!r}")
        pins.append(PythonPin(name, version, digest))
    return pins


def stage_wheels(lock: Path, downloads: Path, target: Path, log: Path) -> list[PythonPin]:
    """Every pinned distribution as a wheel in ``target`` (+ requirements.txt), verified by hash.

    Files come from PyPI (pip download --require-hashes); the few pure-Python sdists are built
    into wheels here (SOURCE_DATE_EPOCH set), without a compiler.
    """
    pins = read_lock(lock)
    downloads.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                           "--dest", str(downloads), "-r", str(lock)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise ArtifactError(f"cannot fetch the packages of {lock.name} from PyPI: {proc.stderr.strip()[-800:]}")
    target.mkdir(parents=True, exist_ok=True)
    wanted = {_norm(p.name): p for p in pins}
    for path in sorted(downloads.iterdir()):
        name, version = _dist_of(path.name)
        pin = wanted.get(name)
        if pin is None or pin.version != version or file_sha256(path) != pin.sha256:
            continue
        if path.name.endswith(".whl"):
            shutil.copy2(path, target / path.name)
        else:
            built = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(target), str(path)],
                capture_output=True, text=True,
                env={**env, "SOURCE_DATE_EPOCH": "1764547200", "PIP_CONSTRAINT": str(lock.with_name("build-backend.txt"))})
            with log.open("a") as fh:
                fh.write(built.stdout + built.stderr)
            if built.returncode != 0:
                raise ArtifactError(f"cannot build a wheel of {path.name}: {built.stderr.strip()[-500:]}")
    staged = {_dist_of(p.name) for p in target.glob("*.whl")}
    missing = [f"{p.name}=={p.version}" for p in pins if (_norm(p.name), p.version) not in staged]
    if missing:
        raise ArtifactError(f"{lock.name}: not staged: {', '.join(missing)}")
    (target / "requirements.txt").write_text("".join(f"{p.name}=={p.version}\n" for p in pins))
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_of(filename: str) -> tuple[str, str]:
    if filename.endswith(".whl"):
        name, version = filename.split("-")[:2]
    else:
        name, _, version = filename.removesuffix(".tar.gz").removesuffix(".zip").rpartition("-")
    return _norm(name), version
