"""Read a tenant request file as strict YAML: plain data plus the line of every field.

Strict means: one document, no duplicate keys, no anchors or aliases (they make a small file
expand into a huge one), bounded size and nesting. Problems come back as FieldProblems so
they read like every other validation error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, DocumentStartEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from spbe_kit.errors import FieldProblem

try:  # libyaml's C parser: ~20x faster than the pure-Python one, same results
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 256 * 1024
MAX_DEPTH = 20


@dataclass
class YamlDocument:
    """A parsed request: plain Python data and the 1-based line where each field path starts."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)


class YamlProblem(Exception):
    """The file is not a single readable YAML document; carries the problem to report."""

    def __init__(self, problem: FieldProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _problem(message: str, hint: str, line: int | None = None) -> YamlProblem:
    return YamlProblem(FieldProblem(path="(file)", message=message, hint=hint, line=line))


def parse_yaml(text: str | bytes) -> YamlDocument:
    """Parse request text strictly; raise YamlProblem with a readable message otherwise."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise _too_big(len(text))
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _problem(
                f"the file is not UTF-8 text (byte {exc.start} cannot be read)",
                "save the request as plain UTF-8 text (not a Word or PDF document)",
            ) from None
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise _too_big(len(text.encode("utf-8")))
    if not text.strip():
        raise _problem("the file is empty", "start from `spbe request new --region NN.NN`")
    if "\x00" in text:
        raise _problem("the file contains NUL bytes", "save the request as plain UTF-8 text")

    try:
        _reject_aliases_and_multidoc(text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            lines: dict[str, int] = {}
            data = _to_plain(loader, root, "", lines) if root is not None else None
        finally:
            loader.dispose()
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        where = f" (line {line}, column {mark.column + 1})" if mark else ""
        raise _problem(
            f"the file is not valid YAML: {exc.problem or exc.context}{where}",
            "check indentation (spaces, not tabs) and that every `key: value` is on its own line",
            line,
        ) from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        raise _problem(
            f"the file is not valid YAML: {type(exc).__name__}",
            "check the file was saved as a YAML text file",
        ) from None
    return YamlDocument(data=data, lines=lines)


def _too_big(size: int) -> YamlProblem:
    return _problem(
        f"the file is {size} bytes; a tenant request is at most {MAX_BYTES} bytes",
        "a request is a short form; check you chose the right file",
    )


def _line(event_or_node: Any) -> int | None:
    mark = getattr(event_or_node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _reject_aliases_and_multidoc(text: str) -> None:
    """One cheap pass over the parse events, before anything is built from them."""
    documents = 0
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor):
            raise _problem(
                "anchors and aliases (`&name`, `*name`) are not allowed in a tenant request",
                "write each value out in full",
                _line(event),
            )
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _problem(
                    "the file holds more than one YAML document (`---`)",
                    "put one tenant request in each file",
                    _line(event),
                )
        elif isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _problem(
                    f"the file nests deeper than {MAX_DEPTH} levels",
                    "a tenant request is only a few levels deep; compare with `spbe request new`",
                    _line(event),
                )
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _to_plain(loader: Any, node: Node, path: str, lines: dict[str, int]) -> Any:
    """Turn a composed node into plain dict/list/str/int/float, recording each field's line."""
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _problem("a key is a list or block, not a name", "write keys as plain names", _line(key_node))
            key = _scalar(loader.construct_object(key_node))
            if key in out:
                raise _problem(
                    f'the key "{key}" appears twice in the same block',
                    "keep one of them; YAML would otherwise silently use only the last one",
                    _line(key_node),
                )
            child = f"{path}.{key}" if path else str(key)
            lines[child] = _line(key_node) or 0
            out[key] = _to_plain(loader, value_node, child, lines)
        return out
    if isinstance(node, SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            child = f"{path}[{index}]"
            lines[child] = _line(item) or 0
            items.append(_to_plain(loader, item, child, lines))
        return items
    return _scalar(loader.construct_object(node))


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    # dates, timestamps, binary: keep a readable string; the schema rejects them with a path
    return str(value)
