"""A small, fast, deterministic YAML writer for plain Kubernetes data.

The desired state is plain data (dict, list, str, int, bool, None), so it does not need a
general YAML library's representer, which is most of the time a fleet render takes. Keys
keep the order they were built in. Strings are written plain only when YAML would read them
back as the same string; otherwise double-quoted (JSON string syntax is valid YAML), and
multi-line text as a literal block. `tests/unit/test_yaml_emit.py` proves every rendered
object reads back equal.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Plain scalars we allow unquoted: a conservative subset of YAML's plain style.
_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./@+-]*(?:[ :][A-Za-z0-9_./@+()-][A-Za-z0-9_./@+(),-]*)*$")
# Plain strings YAML 1.1 (PyYAML, Kubernetes' go-yaml) would resolve to something else.
_SPECIAL = re.compile(
    r"^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N"
    r"|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|0[bBoOxX][0-9a-fA-F_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*|<<|=)$"
)
_BLOCK_SAFE = re.compile(r"^[^\t\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u0085\u2028\u2029\ufeff]*$")


def dump(data: dict[str, Any]) -> str:
    """One document as YAML text (a mapping at the top, as every Kubernetes object is)."""
    out: list[str] = []
    _mapping(data, 0, out)
    return "".join(out)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, str):
        if value and _PLAIN.match(value) and not _SPECIAL.match(value) and not value.endswith(":"):
            return value
        # control characters and Unicode line separators must be escaped, not written raw
        return json.dumps(value, ensure_ascii=not _BLOCK_SAFE.match(value))
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _block(text: str, indent: int) -> str | None:
    """A literal block for multi-line text, or None where a block could not hold it exactly."""
    if "\n" not in text.rstrip("\n") or not _BLOCK_SAFE.match(text) or text.startswith((" ", "\n")):
        return None
    lines = text.split("\n")
    if any(line != line.rstrip(" ") for line in lines):
        return None  # trailing spaces are legal but invisible; quote instead
    if text.endswith("\n\n"):
        return None  # would need the keep (+) indicator; keep it simple
    chomp = "" if text.endswith("\n") else "-"
    body = lines[:-1] if text.endswith("\n") else lines
    pad = " " * indent
    return f"|{chomp}\n" + "".join(f"{pad}{line}\n" if line else "\n" for line in body)


def _value(value: Any, indent: int, out: list[str]) -> None:
    """Write what follows `key:` -- inline scalar, block text, or a nested collection."""
    if isinstance(value, dict) and value:
        out.append("\n")
        _mapping(value, indent + 2, out)
    elif isinstance(value, list) and value:
        out.append("\n")
        _sequence(value, indent, out)  # sequences under a key are not indented (kubectl style)
    elif isinstance(value, dict):
        out.append(" {}\n")
    elif isinstance(value, list):
        out.append(" []\n")
    elif isinstance(value, str) and (block := _block(value, indent + 2)) is not None:
        out.append(" " + block)
    else:
        out.append(" " + _scalar(value) + "\n")


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys must be strings, not {type(key).__name__}")
    return _scalar(key)


def _mapping(data: dict[str, Any], indent: int, out: list[str], first_prefix: str | None = None) -> None:
    pad = " " * indent
    for i, (key, value) in enumerate(data.items()):
        out.append((first_prefix if i == 0 and first_prefix is not None else pad) + _key(key) + ":")
        _value(value, indent, out)


def _sequence(items: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, dict) and item:
            _mapping(item, indent + 2, out, first_prefix=pad + "- ")
        elif isinstance(item, list) and item:
            out.append(pad + "-\n")
            _sequence(item, indent + 2, out)
        elif isinstance(item, str) and (block := _block(item, indent + 2)) is not None:
            out.append(pad + "- " + block)
        else:
            out.append(pad + "- " + (_scalar(item) if not isinstance(item, (dict, list)) else ("{}" if isinstance(item, dict) else "[]")) + "\n")
