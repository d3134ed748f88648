"""Length targets: "Your response should be approximately N words." and summaries.

Two in-band conventions carry a word-count target in the instruction:

* detailed_writing ends its task with ``Your response should be approximately N words.``;
* summarization asks ``Summarize the input in around N words.``.

Both are checked the same way: the response's word count must lie within a relative
``tolerance`` of N. The tolerance comes from the record's ``meta["length_tolerance"]``
when the generator stored one, else :data:`DEFAULT_TOLERANCE`.

Example:
    >>> from airloom.formats.records import make_record
    >>> record = make_record(instruction="Write a fable.\\n\\nYour response should be "
    ...           "approximately 10 words.",
    ...           response="A fox met a crow and they shared the cheese.")
    >>> check_word_target(record)
    Verdict(ok=True, reason='')
    >>> check_word_target(record.replace(response="Too short.")).reason
    'response has 2 words, target 10 (tolerance 20%: 8 to 12)'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from airloom.checks import Verdict
from airloom.formats.records import Record

__all__ = [
    "DEFAULT_TOLERANCE",
    "SUMMARY_TARGET_RE",
    "WORD_TARGET_RE",
    "check_summary_length",
    "check_word_target",
    "count_words",
    "length_bounds",
    "length_verdict",
    "round_target",
    "summary_request",
    "word_target_line",
]

#: Relative tolerance used when a record does not say otherwise.
DEFAULT_TOLERANCE = 0.2

_WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
WORD_TARGET_RE = re.compile(r"Your response should be approximately ([\d,]+) words\.?\s*$")
SUMMARY_TARGET_RE = re.compile(r"Summarize the input in around ([\d,]+) words\.?", re.IGNORECASE)


def count_words(text: str) -> int:
    """Words in a text: letters/digits runs, joined by inner apostrophes or hyphens.

    Example:
        >>> count_words("Don't panic — it's a well-known fact: 42 is the answer.")
        10
    """
    return len(_WORD_RE.findall(text))


def length_bounds(target: int, tolerance: float) -> tuple[int, int]:
    """The inclusive word-count range accepted for a target.

    Example:
        >>> length_bounds(100, 0.2)
        (80, 120)
    """
    return round(target * (1 - tolerance)), round(target * (1 + tolerance))


def length_verdict(text: str, target: int, tolerance: float = DEFAULT_TOLERANCE) -> Verdict:
    """Whether ``text`` has ``target`` words within a relative tolerance.

    Example:
        >>> length_verdict("one two three", 3).ok, length_verdict("one", 3, 0.1).reason
        (True, 'response has 1 words, target 3 (tolerance 10%: 3 to 3)')
    """
    words = count_words(text)
    low, high = length_bounds(target, tolerance)
    if low <= words <= high:
        return Verdict.passed()
    return Verdict.failed(
        f"response has {words} words, target {target} (tolerance {tolerance:.0%}: {low} to {high})"
    )


def round_target(words: int, step: int = 50) -> int:
    """A word count rounded to a friendly target (nearest ``step``, at least ``step``).

    Example:
        >>> round_target(2317), round_target(12), round_target(640, 10)
        (2300, 50, 640)
    """
    return max(step, round(words / step) * step)


def word_target_line(words: int) -> str:
    """The detailed_writing length sentence.

    Example:
        >>> word_target_line(650)
        'Your response should be approximately 650 words.'
    """
    return f"Your response should be approximately {words} words."


def summary_request(words: int) -> str:
    """The summarization instruction.

    Example:
        >>> summary_request(130)
        'Summarize the input in around 130 words.'
    """
    return f"Summarize the input in around {words} words."


def _target(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text.strip())
    if match is None:
        return None
    digits = match.group(1).replace(",", "")
    return int(digits) if digits.isdigit() and int(digits) > 0 else None


def _tolerance(record: Record) -> float:
    meta = record.meta
    value = meta.get("length_tolerance") if isinstance(meta, Mapping) else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else DEFAULT_TOLERANCE


def check_word_target(record: Record) -> Verdict:
    """The response length matches "Your response should be approximately N words.".

    Example:
        >>> from airloom.formats.records import make_record
        >>> check_word_target(make_record(instruction="Write.", response="x")).reason
        'the instruction states no word-count target'
    """
    target = _target(WORD_TARGET_RE, record.instruction)
    if target is None:
        return Verdict.failed("the instruction states no word-count target")
    return length_verdict(record.response, target, _tolerance(record))


def check_summary_length(record: Record) -> Verdict:
    """The summary length matches "Summarize the input in around N words.".

    Example:
        >>> from airloom.formats.records import make_record
        >>> rec = make_record(instruction="BEGININPUT\\n...\\nBEGININSTRUCTION\\nSummarize the "
        ...        "input in around 5 words.\\nENDINSTRUCTION",
        ...        response="Bees make honey in hives.")
        >>> check_summary_length(rec).ok
        True
    """
    target = _target(SUMMARY_TARGET_RE, record.instruction)
    if target is None:
        return Verdict.failed("the instruction asks for no summary length")
    return length_verdict(record.response, target, _tolerance(record))
