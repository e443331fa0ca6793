"""Layers only point down: request -> catalog -> desired -> stacks/roles/drift/verify -> CLI.

Dev tooling (spbe_kit.devenv: the local cluster and the engine builders) is apart from the
product: no domain module imports it, and none imports the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "spbe_kit"
DOMAIN = ["request", "catalog", "desired", "stacks", "provision", "drift", "configure", "verify", "engine", "fleet", "backups", "lifecycle", "contract.py",
          "health.py", "kubeclient.py", "kubectl.py", "regions.py", "render.py", "scaffold.py", "roles.py"]

#: (module or package, packages it must never import)
FORBIDDEN = [(name, ("spbe_kit.devenv", "spbe_kit.cli", "spbe_kit.portal")) for name in DOMAIN] + [
    # the portal stands beside the CLI: it runs the product's commands, never the dev tooling
    ("portal", ("spbe_kit.devenv", "spbe_kit.cli")),
    ("verify", ("spbe_kit.provision",)),
    ("catalog", ("spbe_kit.request", "spbe_kit.desired")),
    ("request", ("spbe_kit.desired",)),
    ("desired", ("spbe_kit.stacks", "spbe_kit.provision", "spbe_kit.drift")),
    ("stacks", ("spbe_kit.provision",)),
    # the platform's backups stand beside the tenant: nothing of the engine, the desired state or drift
    ("backups", ("spbe_kit.provision", "spbe_kit.stacks", "spbe_kit.desired", "spbe_kit.drift", "spbe_kit.fleet",
                 "spbe_kit.lifecycle")),
    # a tenant's life cycle uses the engine and the backups; the fleet and the engine know nothing of it
    ("lifecycle", ("spbe_kit.fleet",)),
    ("provision", ("spbe_kit.lifecycle",)),
]


def _files(name: str) -> list[Path]:
    path = PACKAGE / name
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


@pytest.mark.parametrize("name,forbidden", FORBIDDEN, ids=[f"{n}-not-{'+'.join(f)}" for n, f in FORBIDDEN])
def test_layers_point_down(name, forbidden):
    offenders = [f"{path.relative_to(PACKAGE)} imports {imp}" for path in _files(name) for imp in _imports(path)
                 if imp.startswith(forbidden)]
    assert not offenders, offenders


def test_no_library_code_changes_the_process_path():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                text = ast.unparse(node)
                if text.startswith("os.environ[") and "PATH" in text:
                    offenders.append(f"{path.relative_to(PACKAGE)}: {text}")
    assert not offenders, offenders
