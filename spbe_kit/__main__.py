"""`python -m spbe_kit` runs the `spbe` command."""

from spbe_kit.cli.main import cli

cli(prog_name="spbe")
