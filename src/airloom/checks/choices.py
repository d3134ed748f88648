"""Multiple choice: the answer key names an option that exists and matches its text.

A multiple_choice record's instruction is a question followed by lettered options
(``A) …`` / ``B. …`` / ``(C) …``, one per line, or inline ``A) … B) …``); the response
is the correct option, ``X) option text``. The check: the options are lettered A, B, C…
without gaps, the response's letter is one of them (no "E" for a four-option
question), and any text after the letter is that option's text (the original's own
check: the answer text occurs in the question).

Example:
    >>> from airloom.formats.records import make_record
    >>> record = make_record(instruction="Which planet is largest?\\nA) Mars\\nB) Jupiter"
    ...           "\\nC) Venus\\nD) Earth", response="B) Jupiter")
    >>> check_answer_key(record)
    Verdict(ok=True, reason='')
    >>> check_answer_key(record.replace(response="E) Saturn")).reason
    'the answer letter E is not among the options A-D'
"""

from __future__ import annotations

import re

from airloom.checks import Verdict
from airloom.formats.records import Record

__all__ = [
    "LETTERS",
    "answer_key_verdict",
    "check_answer_key",
    "check_quiz",
    "parse_answer",
    "parse_options",
    "quiz_size",
    "quiz_verdict",
]

LETTERS = "ABCDEF"
_LINE_OPTION_RE = re.compile(r"^\s*(?:[-*]\s*)?\(?([A-F])\s*[).:]\s+(\S.*?)\s*$", re.MULTILINE)
_INLINE_OPTION_RE = re.compile(r"(?:^|\s)\(?([A-F])\)\s*(.+?)(?=\s+\(?[A-F]\)\s|\s*$)", re.DOTALL)
_ANSWER_RE = re.compile(
    r"^\s*(?:\*\*)?(?:(?:the\s+)?(?:correct\s+)?answer(?:\s+is)?\s*[:\-]?\s*)?(?:\*\*)?"
    r"\(?([A-F])(?:\s*[).:]|\s*$|\s+-\s)\s*(?:\*\*)?(.*)$",
    re.IGNORECASE | re.DOTALL,
)


def _normal(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def parse_options(question: str) -> dict[str, str]:
    """The lettered options of a question, in order (line form, else inline form).

    Example:
        >>> parse_options("Pick one:\\nA) red\\nB) blue\\n(C) green")
        {'A': 'red', 'B': 'blue', 'C': 'green'}
        >>> parse_options("Best fruit? A) apple B) pear C) plum")
        {'A': 'apple', 'B': 'pear', 'C': 'plum'}
    """
    found = _LINE_OPTION_RE.findall(question)
    if len(found) < 2:
        found = _INLINE_OPTION_RE.findall(question)
    options: dict[str, str] = {}
    for letter, text in found:
        options.setdefault(letter.upper(), text.strip())
    return options


def parse_answer(response: str) -> tuple[str, str] | None:
    """The letter and option text of an answer (``"B) Jupiter"``, ``"Answer: B"``).

    Example:
        >>> parse_answer("B) Jupiter, the gas giant"), parse_answer("The answer is C.")
        (('B', 'Jupiter, the gas giant'), ('C', ''))
        >>> parse_answer("A fox, clearly.") is None
        True
    """
    first = response.strip().split("\n", 1)[0]
    match = _ANSWER_RE.match(first)
    if match is None:
        return None
    return match.group(1).upper(), match.group(2).strip().strip("*").strip()


def answer_key_verdict(question: str, response: str) -> Verdict:
    """Check one question and its answer (see the module docstring).

    Example:
        >>> answer_key_verdict("Q?\\nA) x\\nC) y", "A) x").reason
        'options are lettered A, C, not A-B'
    """
    options = parse_options(question)
    if len(options) < 2:
        return Verdict.failed("the question has fewer than two lettered options")
    letters = "".join(options)
    if letters != LETTERS[: len(letters)]:
        expected = f"A-{LETTERS[len(letters) - 1]}"
        return Verdict.failed(f"options are lettered {', '.join(letters)}, not {expected}")
    answer = parse_answer(response)
    if answer is None:
        return Verdict.failed("the response does not start with an option letter")
    letter, text = answer
    if letter not in options:
        return Verdict.failed(
            f"the answer letter {letter} is not among the options A-{letters[-1]}"
        )
    if text:
        given, option = _normal(text), _normal(options[letter])
        if not option or not (given.startswith(option) or option.startswith(given)):
            return Verdict.failed(
                f"the answer text {text[:60]!r} is not option {letter} ({options[letter][:60]!r})"
            )
    return Verdict.passed()


def check_answer_key(record: Record) -> Verdict:
    """The answer key of a multiple-choice record is consistent with its options.

    Example:
        >>> from airloom.formats.records import make_record
        >>> check_answer_key(make_record(instruction="2+2?\\nA) 3\\nB) 4", response="A) 4")).reason
        "the answer text '4' is not option A ('3')"
    """
    return answer_key_verdict(record.instruction, record.response)


_NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_QUIZ_SIZE_RE = re.compile(
    r"\b(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")[\s-]+(?:[\w-]+[\s-]+){0,2}?questions?\b",
    re.IGNORECASE,
)
_QUIZ_KEY_RE = re.compile(
    r"^\s*(?:#+\s*)?(?:\*\*)?answer\s+key\s*:?(?:\*\*)?\s*:?\s*$", re.I | re.M
)
_NUMBERED_RE = re.compile(r"^\s*(?:\*\*)?(?:Q(?:uestion)?\s*)?(\d{1,2})\s*[.):]", re.MULTILINE)


def quiz_size(instruction: str) -> int | None:
    """How many questions a quiz request asks for ("a 5-question quiz", "four questions").

    Example:
        >>> quiz_size("Quiz me with five questions on rivers."), quiz_size("Quiz me.")
        (5, None)
        >>> quiz_size("Write a 4-question multiple-choice quiz about owls.")
        4
    """
    match = _QUIZ_SIZE_RE.search(instruction)
    if match is None:
        return None
    token = match.group(1).lower()
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


def quiz_verdict(instruction: str, response: str) -> Verdict:
    """A quiz has the requested number of numbered questions and an answer key for each.

    Example:
        >>> quiz = "1. Longest river?\\n2. Deepest lake?\\n\\nAnswer key:\\n1. Nile\\n2. Baikal"
        >>> quiz_verdict("Give me a two-question quiz.", quiz).ok
        True
        >>> quiz_verdict("Give me a three-question quiz.", quiz).reason
        'the quiz has 2 questions, 3 were asked for'
    """
    wanted = quiz_size(instruction)
    if wanted is None:
        return Verdict.failed("the request does not say how many questions")
    parts = _QUIZ_KEY_RE.split(response, maxsplit=1)
    if len(parts) != 2:
        return Verdict.failed("no 'Answer key:' section")
    questions = [int(n) for n in _NUMBERED_RE.findall(parts[0])]
    answers = [int(n) for n in _NUMBERED_RE.findall(parts[1])]
    if len(questions) != wanted:
        return Verdict.failed(f"the quiz has {len(questions)} questions, {wanted} were asked for")
    if sorted(answers) != list(range(1, wanted + 1)):
        return Verdict.failed(f"the answer key numbers {answers}, expected 1 to {wanted}")
    return Verdict.passed()


def check_quiz(record: Record) -> Verdict:
    """Quiz records: question count as requested, one key entry per question.

    Example:
        >>> from airloom.formats.records import make_record
        >>> quiz = make_record(instruction="A 2-question quiz on tea.", response="1. a?")
        >>> check_quiz(quiz).reason
        "no 'Answer key:' section"
    """
    return quiz_verdict(record.instruction, record.response)
