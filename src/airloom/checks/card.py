"""Attribute cards must list their attributes as ``key: value`` lines.

Example:
    >>> from airloom.formats.records import make_record
    >>> attribute_lines("Name: Lanternmaw\\n**Habitat:** Trenches\\nA sentence.")
    2
    >>> check_card(make_record(response="A card about a fish.")).reason
    "the card has 0 'key: value' lines, fewer than 2"
"""

from __future__ import annotations

import re

from airloom.checks import Verdict
from airloom.formats.records import Record

__all__ = ["MIN_ATTRIBUTES", "attribute_lines", "check_card"]

#: Fewest attribute lines a card needs.
MIN_ATTRIBUTES = 2

_ATTRIBUTE = re.compile(
    r"^[ \t]*(?:[-*•][ \t]+)?(?:\*\*)?[^:\n*]{1,40}?(?:\*\*)?:(?:\*\*)?[ \t]*\S", re.MULTILINE
)


def attribute_lines(card: str) -> int:
    """How many ``key: value`` attribute lines a card has."""
    return len(_ATTRIBUTE.findall(card))


def check_card(record: Record) -> Verdict:
    """Fail a card with fewer than :data:`MIN_ATTRIBUTES` attribute lines."""
    found = attribute_lines(record.response)
    if found < MIN_ATTRIBUTES:
        return Verdict.failed(
            f"the card has {found} 'key: value' lines, fewer than {MIN_ATTRIBUTES}"
        )
    return Verdict.passed()
