"""Write a desired state as YAML files: one object per file, byte-identical for the same input."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from spbe_kit import yaml_emit
from spbe_kit.desired.model import DesiredState, Manifest

_OUR_FILES = re.compile(r"^\d{3}-[a-z0-9-]+\.yaml$")


def to_yaml(body: dict[str, Any]) -> str:
    """One Kubernetes object as YAML, keys in the order they were built."""
    return yaml_emit.dump(body)


def file_name(index: int, manifest: Manifest) -> str:
    """`NNN-kind-name.yaml`, numbered in creation order."""
    return f"{index:03d}-{manifest.kind.lower()}-{manifest.name}.yaml"


def write_manifests(state: DesiredState, out_dir: Path) -> list[Path]:
    """Write every object of the state into out_dir, removing files a previous render left behind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = {file_name(i, m): m for i, m in enumerate(state.manifests, start=1)}
    for stale in out_dir.iterdir():
        if _OUR_FILES.match(stale.name) and stale.name not in wanted:
            stale.unlink()
    written = []
    for name, manifest in wanted.items():
        path = out_dir / name
        path.write_text(to_yaml(manifest.body), encoding="utf-8")
        written.append(path)
    return written
