"""Output formats and exit codes shared by every command (data to stdout, diagnostics to stderr)."""

from __future__ import annotations

import enum
import json
from typing import Any

import click

from spbe_kit.tables import table

__all__ = ["EXIT_ERROR", "EXIT_FAIL", "EXIT_SUCCESS", "OutputFormat", "emit_json", "output_option", "problem_lines",
           "table", "warn"]

EXIT_SUCCESS = 0
EXIT_FAIL = 1  # drift or invalid input found
EXIT_ERROR = 2  # usage or runtime error


class OutputFormat(str, enum.Enum):
    """How a command reports."""

    TABLE = "table"
    JSON = "json"


def output_option(*choices: enum.Enum):
    """The `-o/--output` option over the given formats (default: table): kubectl's convention, everywhere."""
    values = [c.value for c in choices] if choices else [f.value for f in OutputFormat]
    return click.option(
        "--output", "-o", "output", type=click.Choice(values), default="table", show_default=True,
        help="Report format.",
    )


def emit_json(data: Any) -> None:
    """Machine-readable output on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))




def problem_lines(problems: list[dict[str, Any]]) -> list[str]:
    """Request problems as indented lines: `- path (line N): message` and its hint."""
    lines = []
    for p in problems:
        where = f" (line {p['line']})" if p["line"] else ""
        lines.append(f"  - {p['path']}{where}: {p['message']}")
        if p["hint"]:
            lines.append(f"      hint: {p['hint']}")
    return lines


def warn(message: str) -> None:
    """A diagnostic on stderr."""
    click.echo(message, err=True)
