"""`python -m spbe_kit` runs the `spbe` command."""

from spbe_kit.cli.main import main

main(prog_name="spbe")
