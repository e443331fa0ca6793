"""Images are built once per session (cached by input hash under the cache directory)."""

from __future__ import annotations

import os
import shutil

import pytest

from spbe_kit.images.build import BuiltImage, build
from spbe_kit.images.recipes import RECIPES


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/images" in str(item.fspath):
            item.add_marker(pytest.mark.images)


def _require_builder() -> None:
    missing = [t for t in ("mmdebstrap", "umoci", "runc", "strip-nondeterminism") if shutil.which(t) is None]
    if os.geteuid() != 0 or missing:
        pytest.fail(f"image tests need root and {', '.join(missing) or 'nothing else'} (.ci/run installs them)")


@pytest.fixture(scope="session")
def built():
    """name -> BuiltImage, building on first use."""
    _require_builder()
    cache: dict[str, BuiltImage] = {}

    def get(name: str) -> BuiltImage:
        if name not in cache:
            cache[name] = build(RECIPES[name], lambda line: print(line, flush=True))
        return cache[name]

    return get
