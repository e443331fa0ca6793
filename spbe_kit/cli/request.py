"""`spbe request validate | new`: for pemda IT teams writing and fixing their request."""

from __future__ import annotations

from pathlib import Path

import click

from spbe_kit.catalog import load_catalog
from spbe_kit.cli.output import EXIT_ERROR, EXIT_FAIL, EXIT_SUCCESS, emit_json, output_option, problem_lines
from spbe_kit.errors import RequestInvalid, RequestUnreadable
from spbe_kit.request import Tier, load_request
from spbe_kit.scaffold import new_request


@click.group()
def request() -> None:
    """Write and check tenant requests."""


@request.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@output_option()
def validate(files: tuple[Path, ...], output: str) -> None:
    """Check tenant request FILES; exit 1 if any is invalid (listing every problem), 2 if one cannot be read."""
    results = []
    unreadable = 0
    for path in files:
        try:
            spec = load_request(path)
            results.append({"file": str(path), "valid": True, "tenant": spec.tenant_id, "problems": []})
        except RequestInvalid as exc:
            results.append({"file": str(path), "valid": False, "tenant": None, "problems": [p.to_dict() for p in exc.problems]})
        except RequestUnreadable as exc:
            unreadable += 1
            results.append({"file": str(path), "valid": False, "readable": False, "tenant": None,
                            "problems": [{"path": "(file)", "line": None, "message": exc.message, "hint": exc.hint}]})
    all_valid = all(r["valid"] for r in results)
    if output == "json":
        emit_json({"valid": all_valid, "files": results})
    else:
        for r in results:
            if r["valid"]:
                click.echo(f"ok       {r['file']}  (tenant {r['tenant']})")
                continue
            if r.get("readable") is False:
                click.echo(f"error: {r['problems'][0]['message']}", err=True)
                continue
            click.echo(f"invalid  {r['file']}  ({len(r['problems'])} problem(s))")
            for line in problem_lines(r["problems"]):
                click.echo(line)
        bad = sum(not r["valid"] for r in results) - unreadable
        click.echo(f"{len(results) - bad - unreadable} valid, {bad} invalid"
                   + (f", {unreadable} unreadable" if unreadable else ""))
    if unreadable:
        raise SystemExit(EXIT_ERROR)
    raise SystemExit(EXIT_SUCCESS if all_valid else EXIT_FAIL)


@request.command("new")
@click.option("--region", "region_code", required=True, help='Kemendagri region code, e.g. "35.10".')
@click.option("--tier", type=click.Choice([t.value for t in Tier]), default=Tier.MEDIUM.value, show_default=True)
@click.option("--out-file", "out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def new(region_code: str, tier: str, out: Path | None, force: bool) -> None:
    """Scaffold a request for a region that validates as is."""
    text = new_request(region_code, load_catalog(), Tier(tier), out_file=str(out) if out else None)
    if out is None:
        click.echo(text, nl=False)
        return
    if out.exists() and not force:
        raise click.UsageError(f"{out} exists; use --force to overwrite it")
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}", err=True)
