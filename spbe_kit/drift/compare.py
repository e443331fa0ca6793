"""Compare one desired object with its live counterpart, by owned fields only (pure).

Only fields the desired object sets are compared; a field the API server or a controller
adds is never drift. Three rules keep that free of false positives:

* a zero value (false, 0, "", {}, []) the baseline sets may be absent live: the API server
  omits zero values of non-pointer fields when it serialises;
* lists of objects with unique names (containers, env, volumes, ports, subjects) are
  matched by name, so an extra element live -- an injected container, a new RoleBinding
  subject -- is drift, but a reordering by the server is not;
* quantities (cpu, memory, storage) compare by value: the server canonicalises "0.5" to "500m".
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from spbe_kit.catalog.quantity import parse_quantity
from spbe_kit.drift.rules import ignored

QUANTITY_KEYS = ("resources.", ".hard.", "limits[", ".max.", ".default.", ".defaultRequest.", "sizeLimit", "storage")

Difference = tuple[str, Any, Any]  # (path, expected, actual)


def differences(kind: str, desired: dict[str, Any], live: dict[str, Any]) -> list[Difference]:
    """Every owned field of `desired` whose live value differs (None = absent live)."""
    return list(_walk(kind, desired, live, ""))


def _zero(value: Any) -> bool:
    """A value the API server may leave out when serialising (recursively for blocks)."""
    if isinstance(value, dict):
        return all(_zero(v) for v in value.values())
    if isinstance(value, list):
        return not value
    return value is False or value is None or value == "" or (isinstance(value, (int, float)) and value == 0)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(kind: str, desired: Any, live: Any, path: str) -> Iterator[Difference]:
    if ignored(kind, path):
        return
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            yield path, desired, live
            return
        for key, value in desired.items():
            child = _join(path, key)
            if key not in live:
                if isinstance(value, dict) and value:
                    yield from _walk(kind, value, {}, child)  # leaf by leaf: rules and paths stay precise
                elif not _zero(value) and not ignored(kind, child):
                    yield child, value, None
                continue
            yield from _walk(kind, value, live[key], child)
    elif isinstance(desired, list):
        yield from _walk_list(kind, desired, live, path)
    elif not _same_scalar(desired, live, path):
        yield path, desired, live


def _named(items: list[Any]) -> bool:
    names = [i.get("name") for i in items if isinstance(i, dict)]
    return len(names) == len(items) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names)


def _walk_list(kind: str, desired: list[Any], live: Any, path: str) -> Iterator[Difference]:
    if not isinstance(live, list):
        if not (desired == [] and live is None):
            yield path, desired, live
        return
    if desired and _named(desired) and all(isinstance(i, dict) for i in live):
        by_name = {i.get("name"): i for i in live}
        for item in desired:
            child = f"{path}[name={item['name']}]"
            if item["name"] not in by_name:
                yield child, item, None
            else:
                yield from _walk(kind, item, by_name[item["name"]], child)
        wanted = {i["name"] for i in desired}
        for name, item in by_name.items():
            if name not in wanted:
                yield f"{path}[name={name}]", None, item
        return
    if len(desired) != len(live):
        yield path, desired, live
        return
    if all(not isinstance(i, (dict, list)) for i in desired):
        if desired != live:
            yield path, desired, live
        return
    for index, (want, have) in enumerate(zip(desired, live)):
        yield from _walk(kind, want, have, f"{path}[{index}]")


def _quantity(value: Any) -> Fraction | None:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    try:
        return parse_quantity(str(value))
    except ValueError:
        return None


def _same_scalar(desired: Any, live: Any, path: str) -> bool:
    if desired == live and type(desired) is type(live):
        return True
    if isinstance(desired, (int, float)) and isinstance(live, (int, float)) and not isinstance(desired, bool) \
            and not isinstance(live, bool):
        return desired == live
    if any(k in path for k in QUANTITY_KEYS):
        a, b = _quantity(desired), _quantity(live)
        return a is not None and a == b
    return False
