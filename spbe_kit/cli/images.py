"""`spbe images build | sbom | list`: the baseline's own images, built here from registry packages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from spbe_kit.cli.output import emit_json, output_option, table, warn
from spbe_kit.errors import SpbeError
from spbe_kit.images import build as builder
from spbe_kit.images.recipes import RECIPES


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MiB"


@click.group()
def images() -> None:
    """Build the baseline images (Debian, Maven Central, PyPI; no base image) and show their SBOMs."""


@images.command("list")
@output_option()
def list_(output: str) -> None:
    """Every image recipe: what it holds and the upstream image it replaces."""
    rows = [{"name": r.name, "repository": r.repository, "tag": r.tag, "summary": r.summary,
             "replaces": r.upstream, "debianPackages": list(r.packages),
             "artifacts": [a.purl for a in r.artifacts]} for r in RECIPES.values()]
    if output == "json":
        emit_json(rows)
        return
    click.echo(table([[r["name"], f"{r['repository']}:{r['tag']}", r["summary"]] for r in rows],
                     ["NAME", "IMAGE", "WHAT"]))


@images.command("build")
@click.argument("names", nargs=-1, metavar="[COMPONENT]...")
@click.option("--out-dir", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also copy each OCI archive and SBOM here (for loading into the data center's registry).")
@click.option("--rebuild", is_flag=True, help="Build even when a build of the same inputs is cached.")
@output_option()
def build(names: tuple[str, ...], out_dir: Path | None, rebuild: bool, output: str) -> None:
    """Build OCI images (all when none is named); cached by input hash. Needs root, mmdebstrap."""
    built = builder.build_all(list(names) or None, warn, rebuild=rebuild)
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        for image in built:
            shutil.copy2(image.archive, out_dir / Path(image.archive).name)
            shutil.copy2(image.sbom, out_dir / f"{image.name}-{image.tag}.spdx.json")
    if output == "json":
        emit_json([{k: v for k, v in b.to_dict().items() if k != "debian_packages"} for b in built])
        return
    click.echo(table([[b.name, f"{b.repository}:{b.tag}", b.digest[:19] + "…", _mib(b.size), str(b.packages),
                       "cached" if b.cached else f"{b.build_seconds:.0f}s"] for b in built],
                     ["NAME", "IMAGE", "DIGEST", "SIZE", "PACKAGES", "BUILD"]))
    for b in built:
        click.echo(f"{b.name}: {b.archive}")
    if out_dir:
        click.echo(f"copied to {out_dir}; load with: skopeo copy oci-archive:FILE docker://MIRROR/REPOSITORY:TAG")


@images.command("sbom")
@click.argument("name", metavar="COMPONENT")
@output_option()
def sbom(name: str, output: str) -> None:
    """The SBOM (SPDX 2.3) of a built image: every package and version in it."""
    if name not in RECIPES:
        raise SpbeError(f"no image recipe named {name}", hint=f"known: {', '.join(RECIPES)}")
    path = builder.built_sbom(RECIPES[name])
    if path is None:
        raise SpbeError(f"the {name} image has not been built on this machine",
                        hint=f"build it first: spbe images build {name}")
    document = json.loads(path.read_text())
    if output == "json":
        emit_json(document)
        return
    rows = [[p["name"], p.get("versionInfo", ""), p["externalRefs"][0]["referenceLocator"]]
            for p in document["packages"] if p.get("externalRefs")]
    click.echo(f"{document['name']}: {len(rows)} packages ({path})")
    click.echo(table(rows, ["PACKAGE", "VERSION", "PURL"]))
