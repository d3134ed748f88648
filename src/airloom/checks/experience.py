"""Guided experiences must reach a share of the word count they were asked for.

The instructor stores the least acceptable length in the record's ``meta`` as
``min_words``; records without it pass.

Example:
    >>> from airloom.formats.records import make_record
    >>> check_experience_length(make_record(response="You walk.", meta={"min_words": 3})).reason
    'the experience has 2 words, fewer than 3'
    >>> check_experience_length(make_record(response="You walk on.", meta={"min_words": 3})).ok
    True
"""

from __future__ import annotations

import re

from airloom.checks import Verdict
from airloom.formats.records import Record

__all__ = ["check_experience_length", "word_count"]

_WORD = re.compile(r"[\w'-]+")


def word_count(text: str) -> int:
    """Words in a text (runs of letters, digits, apostrophes and hyphens).

    Example:
        >>> word_count("It's a well-known fact, isn't it?")
        6
    """
    return len(_WORD.findall(text))


def check_experience_length(record: Record) -> Verdict:
    """Fail an experience shorter than its ``meta.min_words``."""
    minimum = record.meta.get("min_words")
    if not minimum:
        return Verdict.passed()
    words = word_count(record.response)
    if words < int(minimum):
        return Verdict.failed(f"the experience has {words} words, fewer than {minimum}")
    return Verdict.passed()
