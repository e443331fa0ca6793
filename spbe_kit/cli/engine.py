"""`spbe engine build`: the Pulumi CLI, language host and providers, built from Go modules."""

from __future__ import annotations

import click

from spbe_kit.cli.output import emit_json, output_option


@click.group()
def engine() -> None:
    """The Pulumi engine used by `spbe tenant up | preview | destroy`."""


@engine.command("build")
@click.option("--force", is_flag=True, help="Rebuild and reinstall everything.")
@output_option()
def build(force: bool, output: str) -> None:
    """Build whatever is missing of the Pulumi engine (progress on stderr) and install its plugins offline."""
    from spbe_kit.devenv.engine.build import ensure_engine

    paths = ensure_engine(lambda line: click.echo(line, err=True), force=force)
    data = {"cli": str(paths.cli), "pulumiHome": str(paths.pulumi_home),
            "providers": {k: str(v) for k, v in paths.providers.items()},
            "built": [{"tool": t, "seconds": round(s, 1)} for t, s in paths.built], "seconds": round(paths.seconds, 1)}
    if output == "json":
        emit_json(data)
        return
    click.echo(f"pulumi CLI:     {data['cli']}")
    for name, path in data["providers"].items():
        click.echo(f"provider {name + ':':<11}{path}")
