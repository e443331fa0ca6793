"""Fetching a recipe's artifacts from Maven Central and PyPI, verified against their pinned sha256."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from spbe_kit.errors import SpbeError
from spbe_kit.images.recipes import Artifact
from spbe_kit.images.sbom import file_sha256

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
