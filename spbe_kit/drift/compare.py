"""Compare one desired object with its live counterpart, by owned fields only (pure).

Only fields the desired object sets are compared; a field the API server or a controller
adds is never drift. Three rules keep that free of false positives:

* an empty block or list the baseline sets may be absent live, and so may a false/0 value of
  the few non-pointer fields the API server omits (rules.OMITTED_WHEN_ZERO); any other
  absent field -- automountServiceAccountToken: false, say -- is drift;
* subtrees the baseline owns entirely (NetworkPolicy specs, RBAC rules and subjects,
  securityContexts, volumes) are compared whole, so additions there are drift too, and a
  pod spec must not gain fields the baseline never sets (init or ephemeral containers, host
  namespaces);
* lists of objects with unique names (containers, env, volumes, ports, subjects) are
  matched by name, so an extra or duplicated element live -- an injected container, a new
  RoleBinding subject -- is drift, but a reordering by the server is not; what is found live
  but not in the baseline is reported by path only, never copied (it may hold a secret);
* quantities (cpu, memory, storage) compare by value: the server canonicalises "0.5" to "500m".
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from spbe_kit.catalog.quantity import parse_quantity
from spbe_kit.drift import rules
from spbe_kit.drift.rules import ignored

QUANTITY_KEYS = ("resources.", ".hard.", "limits[", ".max.", ".default.", ".defaultRequest.", "sizeLimit", "storage")

#: What stands in a finding for content found live but not in the baseline: its presence is
#: the evidence; its content (an env value, a command line) may hold a secret, so it is not copied.
EXTRA = "(present live, not in the baseline; content not copied into the report)"

Difference = tuple[str, Any, Any]  # (path, expected, actual)


def differences(kind: str, desired: dict[str, Any], live: dict[str, Any]) -> list[Difference]:
    """Every owned field of `desired` whose live value differs (None = absent live)."""
    return list(_walk(kind, desired, live, "", exact=False))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _empty(value: Any) -> bool:
    return isinstance(value, (dict, list)) and not value


def _zero(value: Any) -> bool:
    return value is False or value == "" or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def _shown(value: Any) -> Any:
    """A live value as it may appear in a report: scalars as they are, collections not copied."""
    return EXTRA if isinstance(value, (dict, list)) else value


def _walk(kind: str, desired: Any, live: Any, path: str, exact: bool) -> Iterator[Difference]:
    if ignored(kind, path):
        return
    exact = exact or (bool(path) and rules.exact(kind, path))
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            yield path, desired, _shown(live)
            return
        for key, value in desired.items():
            child = _join(path, key)
            if key not in live:
                if isinstance(value, dict) and value:
                    yield from _walk(kind, value, {}, child, exact)  # leaf by leaf: rules and paths stay precise
                elif not (_empty(value) or (_zero(value) and rules.omitted_when_zero(kind, child))) \
                        and not ignored(kind, child):
                    yield child, value, None
                continue
            yield from _walk(kind, value, live[key], child, exact)
        extra = [k for k in live if k not in desired]
        if exact:  # an added empty block counts here: namespaceSelector: {} means every namespace
            for key in extra:
                if live[key] is not None and not ignored(kind, _join(path, key)):
                    yield _join(path, key), None, _shown(live[key])
        elif path.endswith("template.spec"):  # a pod spec: fields the baseline never sets must stay unset
            for key in extra:
                if key in rules.POD_SPEC_FORBIDDEN and not _empty(live[key]) and live[key] is not False:
                    yield _join(path, key), None, _shown(live[key])
    elif isinstance(desired, list):
        yield from _walk_list(kind, desired, live, path, exact)
    elif not _same_scalar(desired, live, path):
        yield path, desired, _shown(live)


def _named(items: list[Any]) -> bool:
    names = [i.get("name") for i in items if isinstance(i, dict)]
    return len(names) == len(items) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names)


def _walk_list(kind: str, desired: list[Any], live: Any, path: str, exact: bool) -> Iterator[Difference]:
    if not isinstance(live, list):
        if not (desired == [] and live is None):
            yield path, desired, _shown(live)
        return
    if desired and _named(desired) and all(isinstance(i, dict) for i in live):
        by_name: dict[Any, Any] = {}
        for item in live:
            name = item.get("name")
            if name in by_name:  # a second entry of the same name would hide behind the first
                yield f"{path}[name={name}]", "one entry", "(duplicate name live)"
            by_name.setdefault(name, item)
        for item in desired:
            child = f"{path}[name={item['name']}]"
            if item["name"] not in by_name:
                yield child, item, None
            else:
                yield from _walk(kind, item, by_name[item["name"]], child, exact)
        wanted = {i["name"] for i in desired}
        for name in by_name:
            if name not in wanted:
                yield f"{path}[name={name}]", None, EXTRA
        return
    if len(desired) != len(live):
        yield path, desired, EXTRA if len(live) > len(desired) else live
        return
    if all(not isinstance(i, (dict, list)) for i in desired):
        if desired != live:
            yield path, desired, live
        return
    for index, (want, have) in enumerate(zip(desired, live)):
        yield from _walk(kind, want, have, f"{path}[{index}]", exact)


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
