"""`spbe tenant ...`: render (and, with the Pulumi engine, provision) one tenant."""

from __future__ import annotations

from pathlib import Path

import click

from spbe_kit.catalog import load_catalog
from spbe_kit.cli.output import emit_json, output_option
from spbe_kit.desired import desired_state
from spbe_kit.render import write_manifests
from spbe_kit.request import load_request


@click.group()
def tenant() -> None:
    """Render and manage tenants."""


@tenant.command("render")
@click.argument("request_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory for the YAML files.")
@click.option("--catalog-version", "version", default=None, help="Catalog version (default: newest).")
@click.option("--registry", default=None, envvar="SPBE_REGISTRY", help="Pull every image from this mirror.")
@output_option()
def render(request_file: Path, out: Path, version: str | None, registry: str | None, output: str) -> None:
    """Write every Kubernetes object of a tenant as YAML (same input, byte-identical output)."""
    spec = load_request(request_file)
    state = desired_state(spec, load_catalog(version, registry))
    files = write_manifests(state, out)
    if output == "json":
        emit_json({"tenant": state.tenant_id, "catalogVersion": state.catalog_version, "directory": str(out),
                   "objects": [{"kind": m.kind, "name": m.name, "component": m.component, "file": f.name}
                               for m, f in zip(state.manifests, files)]})
        return
    click.echo(f"rendered {len(files)} objects of tenant {state.tenant_id} (catalog {state.catalog_version}) into {out}")
