"""Read a tenant request file as strict YAML: plain data plus the line of every field.

Strict means: one document, no duplicate keys, no anchors or aliases (they make a small file
expand into a huge one), bounded size and nesting. Problems come back as FieldProblems so
they read like every other validation error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent

from spbe_kit.errors import FieldProblem

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

    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        _reject_aliases_and_multidoc(yaml, text)
        docs = list(yaml.load_all(text))
    except YamlProblem:
        raise
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        key = _duplicate_key_name(exc)
        raise _problem(
            f"the key {key} appears twice in the same block",
            "keep one of them; YAML would otherwise silently use only the last one",
            line,
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        where = f" (line {line}, column {mark.column + 1})" if mark else ""
        raise _problem(
            f"the file is not valid YAML: {exc.problem or exc.context}{where}",
            "check indentation (spaces, not tabs) and that every `key: value` is on its own line",
            line,
        ) from None
    except (YAMLError, RecursionError, ValueError) as exc:
        raise _problem(
            f"the file is not valid YAML: {type(exc).__name__}",
            "check the file was saved as a YAML text file",
        ) from None
    data = docs[0] if docs else None
    lines: dict[str, int] = {}
    return YamlDocument(data=_to_plain(data, "", lines, 0), lines=lines)


def _too_big(size: int) -> YamlProblem:
    return _problem(
        f"the file is {size} bytes; a tenant request is at most {MAX_BYTES} bytes",
        "a request is a short form; check you chose the right file",
    )


def _reject_aliases_and_multidoc(yaml: YAML, text: str) -> None:
    documents = 0
    depth = 0
    for event in yaml.parse(text):
        name = type(event).__name__
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
            line = event.start_mark.line + 1 if event.start_mark else None
            raise _problem(
                "anchors and aliases (`&name`, `*name`) are not allowed in a tenant request",
                "write each value out in full",
                line,
            )
        if name == "DocumentStartEvent":
            documents += 1
            if documents > 1:
                raise _problem(
                    "the file holds more than one YAML document (`---`)",
                    "put one tenant request in each file",
                    event.start_mark.line + 1 if event.start_mark else None,
                )
        elif name in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
            if depth > MAX_DEPTH:
                raise _problem(
                    f"the file nests deeper than {MAX_DEPTH} levels",
                    "a tenant request is only a few levels deep; compare with `spbe request new`",
                    event.start_mark.line + 1 if event.start_mark else None,
                )
        elif name in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1


def _duplicate_key_name(exc: DuplicateKeyError) -> str:
    problem = exc.problem or ""
    if 'found duplicate key "' in problem:
        return '"' + problem.split('found duplicate key "', 1)[1].split('"', 1)[0] + '"'
    return "(unknown)"


def _join(prefix: str, key: object) -> str:
    if isinstance(key, int) and not isinstance(key, bool) and prefix.endswith("]") is False and prefix:
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)


def _to_plain(node: Any, path: str, lines: dict[str, int], depth: int) -> Any:
    """Turn ruamel's round-trip types into plain dict/list/str/int/float, recording lines."""
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            plain_key = _scalar(key)
            child = f"{path}.{plain_key}" if path else str(plain_key)
            try:
                lines[child] = node.lc.key(key)[0] + 1
            except (KeyError, TypeError, AttributeError):
                pass
            out[plain_key] = _to_plain(value, child, lines, depth + 1)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = f"{path}[{index}]"
            try:
                lines[child] = node.lc.item(index)[0] + 1
            except (KeyError, TypeError, AttributeError):
                pass
            items.append(_to_plain(value, child, lines, depth + 1))
        return items
    return _scalar(node)


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
