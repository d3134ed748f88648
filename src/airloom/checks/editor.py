"""Editor records: the corrected text must really differ from the flawed one.

An editor record's instruction is a fixed request, a blank line and ``Text: `` followed
by the flawed text; its response is the original, clean text. A "flawed" text that
equals the clean one (case and spacing aside) teaches nothing, and one that lost
half of the words is no longer the same text.

Example:
    >>> from airloom.formats.records import make_record
    >>> check_editor(make_record(instruction="Fix this.\\n\\nText: Teh cat sat.",
    ...               response="The cat sat.")).ok
    True
    >>> check_editor(make_record(instruction="Fix this.\\n\\nText: The cat  sat.",
    ...               response="the cat sat.")).reason
    'the text to correct has no errors'
"""

from __future__ import annotations

from airloom.checks import Verdict
from airloom.formats.records import Record

__all__ = ["MIN_LENGTH_RATIO", "TEXT_LABEL", "check_editor", "flawed_text"]

TEXT_LABEL = "Text: "
#: The flawed text must keep at least this share of the original's words.
MIN_LENGTH_RATIO = 0.5


def flawed_text(instruction: str) -> str | None:
    """The text to correct in an editor instruction, or None when there is none.

    Example:
        >>> flawed_text("Please fix.\\n\\nText: Hello wrold")
        'Hello wrold'
    """
    _, sep, tail = instruction.partition("\n\n" + TEXT_LABEL)
    return tail.strip() if sep and tail.strip() else None


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def check_editor(record: Record) -> Verdict:
    """Fail an editor record whose flawed text is missing or equals the clean one."""
    flawed = flawed_text(record.instruction)
    if flawed is None:
        return Verdict.failed("no 'Text:' section in the instruction")
    clean = record.response
    if not clean.strip():
        return Verdict.failed("empty corrected text")
    if _normal(flawed) == _normal(clean):
        return Verdict.failed("the text to correct has no errors")
    if len(flawed.split()) < MIN_LENGTH_RATIO * len(clean.split()):
        return Verdict.failed("the text to correct is less than half as long as the original")
    return Verdict.passed()
