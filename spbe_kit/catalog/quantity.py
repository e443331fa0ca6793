"""Kubernetes resource quantities ("250m", "1.5", "768Mi", "2Gi") as exact numbers."""

from __future__ import annotations

import re
from fractions import Fraction

_SUFFIX = {
    "": Fraction(1), "m": Fraction(1, 1000), "k": Fraction(10**3), "M": Fraction(10**6),
    "G": Fraction(10**9), "T": Fraction(10**12), "Ki": Fraction(2**10), "Mi": Fraction(2**20),
    "Gi": Fraction(2**30), "Ti": Fraction(2**40),
}
_PATTERN = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def parse_quantity(text: str) -> Fraction:
    """The exact value of a quantity; ValueError for anything Kubernetes would not accept here."""
    match = _PATTERN.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    return Fraction(match.group(1)) * _SUFFIX[match.group(2) or ""]
