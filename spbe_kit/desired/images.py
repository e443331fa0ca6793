"""Which images a tenant's desired state runs, and which of them are catalog placeholders."""

from __future__ import annotations

from spbe_kit.catalog.model import Catalog
from spbe_kit.desired.model import DesiredState


def _containers(body: dict) -> list[dict]:
    spec = body.get("spec", {})
    template = spec.get("jobTemplate", {}).get("spec", {}).get("template") or spec.get("template") or {}
    pod = template.get("spec", {})
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]


def images_in(state: DesiredState) -> set[str]:
    """Every container image reference of the state's workloads."""
    return {c["image"] for m in state.manifests for c in _containers(m.body) if c.get("image")}


def placeholder_images(state: DesiredState, catalog: Catalog) -> list[str]:
    """Catalog entries marked ``placeholder`` whose reference the state runs (sorted names)."""
    used = images_in(state)
    return sorted(name for name in catalog.images if catalog.images[name].placeholder and catalog.image(name) in used)
