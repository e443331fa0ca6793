"""`spbe catalog show | images`: what the baseline contains, and what to mirror."""

from __future__ import annotations

import click

from spbe_kit.catalog import available_versions, load_catalog
from spbe_kit.cli.output import emit_json, output_option, table, warn

_version = click.option("--catalog-version", "version", default=None, help="Catalog version (default: newest).")
_registry = click.option("--registry", default=None, envvar="SPBE_REGISTRY", help="Pull every image from this mirror.")


@click.group()
def catalog() -> None:
    """Inspect the baseline catalog."""


@catalog.command("show")
@_version
@output_option()
def show(version: str | None, output: str) -> None:
    """Show a catalog version: images, tiers and platform settings."""
    cat = load_catalog(version)
    if output == "json":
        data = cat.model_dump(mode="json", by_alias=True, exclude={"registry_override"})
        data["availableVersions"] = available_versions()
        emit_json(data)
        return
    click.echo(f"catalog {cat.version}  (available: {', '.join(available_versions())})\n")
    click.echo(table([[n, i.tag, i.digest[:19] + "…", "placeholder" if i.placeholder else ""] for n, i in cat.images.items()],
                     ["IMAGE", "TAG", "DIGEST", ""]))
    click.echo("")
    rows = []
    for tier, spec in cat.tiers.items():
        q = spec.quota
        rows.append([tier.value, q.get("requests.cpu", "-"), q.get("requests.memory", "-"), q.get("limits.cpu", "-"),
                     q.get("limits.memory", "-"), q.get("requests.storage", "-"), q.get("pods", "-")])
    click.echo(table(rows, ["TIER", "CPU REQ", "MEM REQ", "CPU LIM", "MEM LIM", "STORAGE", "PODS"]))
    b = cat.backup
    click.echo(f"\nbackup: schedule {b.schedule!r}, kept {b.retention_days} days, restore check {b.restore_check_schedule!r}")


@catalog.command("images")
@_version
@_registry
@output_option()
def images(version: str | None, registry: str | None, output: str) -> None:
    """List every image of a catalog version (pinned by digest): the list to mirror."""
    cat = load_catalog(version, registry)
    refs = [{"name": n, "reference": cat.image(n), "placeholder": i.placeholder} for n, i in cat.images.items()]
    if output == "json":
        emit_json(refs)
    else:
        for ref in refs:
            click.echo(ref["reference"])
    for ref in refs:
        if ref["placeholder"]:
            warn(f"warning: {ref['name']} has a placeholder digest until the SPBE image pipeline publishes it")
