"""Plain aligned text tables, for every report that prints one."""

from __future__ import annotations


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table."""
    rows = [list(r) if not isinstance(r, str) else r for r in rows]
    if any(not isinstance(h, str) for h in headers) or any(isinstance(r, str) for r in rows):
        raise TypeError("table(rows, headers): rows are lists of cells, headers are strings")
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)] if rows else [len(h) for h in headers]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)
