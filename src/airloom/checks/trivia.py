"""Trivia answers that must start with, end with or contain quoted letters.

A trivia question may constrain its own answer ("This capital ends with 'a'",
"a word starting with 'sm'", "a river containing 'ss'"); the terse, system-prompted
answer must honour it. Comparisons ignore case, surrounding quotes and punctuation,
and a leading article ("The Tigris" starts with 'tig'). The re-answer row without
the system prompt adds context around the answer, so only the terse row (the one
with a ``system`` prompt) is checked.

Example:
    >>> from airloom.formats.records import make_record
    >>> check_trivia(make_record(instruction="The capital of Australia, it ends with 'a'.",
    ...               response="Canberra", system="S")).ok
    True
    >>> check_trivia(make_record(instruction="A word starting with 'sm' for a tiny amount.",
    ...               response="Pinch", system="S")).reason
    "answer 'Pinch' does not start with 'sm'"
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airloom.checks import Verdict
from airloom.formats.records import Record

__all__ = ["AnswerConstraint", "answer_constraints", "answer_satisfies", "check_trivia"]

# Letters, not quotations: a quoted fragment with a space ("begins with 'Call me'") is
# a quote from the clue, not a constraint on the answer.
_QUOTED = (
    r"""(?:'(?P<s>[^'\s]{1,20})'|"(?P<d>[^"\s]{1,20})"|"""
    r"""‘(?P<c>[^’\s]{1,20})’|“(?P<e>[^”\s]{1,20})”)"""
)
_LETTERS = r"(?:the\s+)?(?:letters?\s+|characters?\s+|syllables?\s+)?"
_START = re.compile(
    rf"\b(?:starts?|starting|begins?|beginning)\s+with\s+{_LETTERS}{_QUOTED}", re.IGNORECASE
)
_END = re.compile(rf"\b(?:ends?|ending)\s+(?:with|in)\s+{_LETTERS}{_QUOTED}", re.IGNORECASE)
_CONTAINS = re.compile(
    rf"\b(?:with|contains?|containing|have|has|having|includes?|including)\s+{_LETTERS}{_QUOTED}",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_EDGE = re.compile(r"^[\s\"'“”‘’*_`(\[]+|[\s\"'“”‘’*_`)\].,;:!?]+$")


@dataclass(frozen=True, slots=True)
class AnswerConstraint:
    """One constraint on an answer: ``kind`` is start, end or contains."""

    kind: str
    letters: str


def _quoted(match: re.Match[str]) -> str:
    return next(v for v in match.group("s", "d", "c", "e") if v is not None)


def answer_constraints(question: str) -> list[AnswerConstraint]:
    """The start/end/contains constraints a question puts on its answer.

    A "starts with 'x'" is not also read as "with 'x'" (contains).

    Example:
        >>> found = answer_constraints("Name a bird starting with 'p' and containing 'ng'.")
        >>> [(c.kind, c.letters) for c in found]
        [('start', 'p'), ('contains', 'ng')]
    """
    found: list[AnswerConstraint] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in (("start", _START), ("end", _END)):
        for match in pattern.finditer(question):
            found.append(AnswerConstraint(kind, _quoted(match)))
            taken.append(match.span())
    for match in _CONTAINS.finditer(question):
        if not any(match.start() < end and start < match.end() for start, end in taken):
            found.append(AnswerConstraint("contains", _quoted(match)))
    return found


def _clean(answer: str) -> str:
    first = answer.strip().split("\n", 1)[0]
    return _EDGE.sub("", first).strip()


def answer_satisfies(answer: str, constraint: AnswerConstraint) -> bool:
    """Whether an answer meets one constraint (case-insensitive, article optional).

    Example:
        >>> answer_satisfies("The Tigris.", AnswerConstraint("start", "tig"))
        True
    """
    text = _clean(answer).casefold()
    letters = constraint.letters.casefold()
    variants = {text, _ARTICLE.sub("", text)}
    if constraint.kind == "start":
        return any(v.startswith(letters) for v in variants)
    if constraint.kind == "end":
        return any(v.endswith(letters) for v in variants)
    return letters in text


def check_trivia(record: Record) -> Verdict:
    """Fail a terse trivia answer that breaks a constraint stated in its question.

    Records without a ``system`` prompt (the re-answers with context) pass.
    """
    if not record.system:
        return Verdict.passed()
    answer = record.response
    if not answer.strip():
        return Verdict.failed("empty answer")
    for constraint in answer_constraints(record.instruction):
        if not answer_satisfies(answer, constraint):
            verb = {"start": "start with", "end": "end with", "contains": "contain"}
            return Verdict.failed(
                f"answer {_clean(answer)!r} does not {verb[constraint.kind]} {constraint.letters!r}"
            )
    return Verdict.passed()
