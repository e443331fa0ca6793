"""The `spbe` command: thin click layer over the library; errors become one block and an exit code."""

from __future__ import annotations

import os
import sys
import traceback

import click

from spbe_kit import __version__
from spbe_kit.cli.backup import backup
from spbe_kit.cli.catalog import catalog
from spbe_kit.cli.drift import drift
from spbe_kit.cli.engine import engine
from spbe_kit.cli.fleet import fleet
from spbe_kit.cli.images import images
from spbe_kit.cli.output import EXIT_ERROR, problem_lines
from spbe_kit.cli.portal import portal
from spbe_kit.cli.request import request
from spbe_kit.cli.tenant import tenant
from spbe_kit.cli.verify import verify
from spbe_kit.errors import SpbeError
from spbe_kit.parent_process import ParentGone, follow_parent


class SpbeGroup(click.Group):
    """Maps our errors to their exit codes; no traceback reaches a user unless SPBE_DEBUG is set."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SpbeError as exc:
            click.echo(f"error: {exc.message}", err=True)
            for line in problem_lines([p.to_dict() for p in getattr(exc, "problems", ())]):
                click.echo(line, err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # `spbe ... | head`: the reader is gone, which is not an error
            _silence_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: say so plainly, keep the details for the report
            if os.environ.get("SPBE_DEBUG"):
                traceback.print_exc()
            click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
            click.echo("  hint: this is a bug in spbe-kit; rerun with SPBE_DEBUG=1 and report the output", err=True)
            ctx.exit(EXIT_ERROR)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so nothing (not even the exit-time flush) writes to a closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@click.group(cls=SpbeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spbe")
def cli() -> None:
    """spbe-kit: identical, verified, auditable SPBE tenants for every pemda."""


cli.add_command(request)
cli.add_command(catalog)
cli.add_command(tenant)
cli.add_command(engine)
cli.add_command(drift)
cli.add_command(verify)
cli.add_command(images)
cli.add_command(fleet)
cli.add_command(backup)
cli.add_command(portal)


def _add_optional_commands() -> None:
    # The cluster commands live in their own module; import lazily so a broken optional
    # dependency there never stops request validation from working.
    try:
        from spbe_kit.cli.cluster import cluster
    except ImportError as exc:  # pragma: no cover
        print(f"warning: cluster commands unavailable: {exc}", file=sys.stderr)
        return
    cli.add_command(cluster)


_add_optional_commands()


def main(prog_name: str | None = None) -> None:
    """The console entry point: `cli` plus a quiet exit when stdout's reader went away."""
    try:
        follow_parent()
    except ParentGone as exc:
        sys.stderr.write(f"spbe: {exc}; stopping\n")
        sys.exit(EXIT_ERROR)
    try:
        cli(prog_name=prog_name)
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
