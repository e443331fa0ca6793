"""Words of the drift report for auditors, in English and Bahasa Indonesia (`--lang id`).

One catalogue per language (``words/en.py``, ``words/id.py``); every key must exist in both
with the same placeholders (a unit test holds them to it). Field paths, object names and
values read from Kubernetes stay as they are; everything the kit itself says -- labels,
statuses, the phrases it puts in findings, the reasons of its rules -- is translated.
"""

from __future__ import annotations

import enum
from typing import Any

from spbe_kit.drift.model import FindingKind, Phrase
from spbe_kit.drift.words import en, id as id_


class Lang(str, enum.Enum):
    """Report languages."""

    EN = "en"
    ID = "id"


CATALOGUES: dict[Lang, dict[str, str]] = {Lang.EN: en.WORDS, Lang.ID: id_.WORDS}

#: key -> language -> text (the shape the templates use)
MESSAGES: dict[str, dict[Lang, str]] = {key: {lang: CATALOGUES[lang][key] for lang in Lang} for key in en.WORDS}


def t(key: str, lang: Lang | str = Lang.EN, **values: object) -> str:
    """The message `key` in `lang`, with values filled in."""
    text = CATALOGUES[Lang(lang)][key]
    return text.format(**values) if values else text


def finding_text(kind: FindingKind | str, lang: Lang | str = Lang.EN) -> str:
    """What a finding kind means, in words."""
    return t(f"kind.{FindingKind(kind).value}", lang)


def phrase_text(phrase: Phrase | dict[str, Any], lang: Lang | str = Lang.EN) -> str:
    """A phrase of the kit (a Phrase, or its JSON form ``{"key":..., "params":...}``) in `lang`."""
    if isinstance(phrase, Phrase):
        return t(phrase.key, lang, **dict(phrase.params))
    return t(phrase["key"], lang, **(phrase.get("params") or {}))


def finding_value(finding: dict[str, Any], which: str, lang: Lang | str) -> Any:
    """`expected` or `actual` of a finding's JSON form, translated when the kit wrote it."""
    phrase = finding.get(f"{which}Phrase")
    return phrase_text(phrase, lang) if phrase else finding.get(which)


def rule_reason(rule: dict[str, Any], lang: Lang | str) -> str:
    """A rule's reason in `lang` (its English text when it carries no key)."""
    key = rule.get("reasonKey")
    return t(key, lang, **(rule.get("reasonParams") or {})) if key else rule.get("reason", "")


def rule_target(rule: dict[str, Any], lang: Lang | str) -> str:
    key = rule.get("targetKey")
    return t(key, lang) if key else rule.get("path", rule.get("name", ""))
