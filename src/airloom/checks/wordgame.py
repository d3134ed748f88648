"""Word-game answers checked against the constraints their prompt states.

The prompt is read for constraints a program can verify; anything it does not
recognise is left alone (the answer passes). Two shapes of answer are told apart:

* a **word list** ("Give me a list of 12 words that start with 'qu'", "List 8 words
  that contain 'ing'", "6 words with exactly 5 letters"): the listed words (numbered,
  bulleted, one per line or comma-separated; glosses after a dash or colon ignored)
  must number as asked and each start with / end with / contain the quoted letters
  and have the asked number of letters;
* a **text** (a sentence, poem, paragraph, story, haiku…): "exactly N words", "without
  the letter 'e'", "every word starts with 'l'", "every line begins with 's'", and a
  sentence whose words start with the letters of the alphabet in (reverse) order.

Example:
    >>> from airloom.formats.records import make_record
    >>> check_wordgame(make_record(instruction="Give me a list of 3 words that start with 'qu'.",
    ...                 response="1. Quick\\n2. Quiet\\n3. Quill")).ok
    True
    >>> check_wordgame(make_record(instruction="List 2 words that contain 'ing'.",
    ...                 response="- king\\n- queen")).reason
    "word 'queen' does not contain 'ing'"
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from airloom.checks import Verdict
from airloom.formats.records import Record

__all__ = ["WordRule", "check_wordgame", "listed_words", "wordgame_rules"]

_Q = r"""['"‘’“”](?P<x>[^'"‘’“”\s]{1,12})['"‘’“”]"""
_LETTER_WORDS = r"(?:the\s+)?(?:letters?\s+|characters?\s+|prefix\s+|suffix\s+)?"
_NEGATED_CONTAINS = re.compile(
    rf"\b(?:without|no|not|never|don't|doesn't|do\s+not|does\s+not)\s+"
    rf"(?:(?:using|use|contain|containing|include|including|any)\s+)*{_LETTER_WORDS}{_Q}",
    re.IGNORECASE,
)
_STARTS = re.compile(
    rf"\b(?:starts?|starting|begins?|beginning)\s+with\s+{_LETTER_WORDS}{_Q}", re.IGNORECASE
)
_ENDS = re.compile(rf"\b(?:ends?|ending)\s+(?:with|in)\s+{_LETTER_WORDS}{_Q}", re.IGNORECASE)
_CONTAINS = re.compile(
    rf"\b(?:contains?|containing|include|includes|including|with)\s+{_LETTER_WORDS}{_Q}",
    re.IGNORECASE,
)
_LETTER_COUNT = re.compile(
    r"\b(?:exactly\s+|only\s+)?(\d{1,2})(?:\s+|-)letters?(?:\s+long|\s+words?)?\b", re.IGNORECASE
)
_EXACT_WORDS = re.compile(r"\b(?:exactly|precisely|only)\s+(\d{1,4})\s+words\b", re.IGNORECASE)
_LIST_COUNT = re.compile(
    r"\b(?:list|give|provide|name|generate|write\s+down|come\s+up\s+with|create)\b"
    r"[^.?!\d]{0,30}?\b(\d{1,3})\s+(?:[\w-]+\s+){0,3}?words\b",
    re.IGNORECASE,
)
_LIST_VERB = re.compile(
    r"\b(?:list|give|provide|name|generate|create|make|write\s+down|come\s+up\s+with)\b"
    r"[^.?!]*\bwords\b",
    re.IGNORECASE,
)
_TEXT_FORMS = re.compile(
    r"\b(?:sentences?|paragraphs?|poems?|story|stories|haikus?|limericks?|verses?|"
    r"essays?|sonnets?|speech|dialogue|tweet|slogan|acrostic|description|narrative)\b",
    re.IGNORECASE,
)
_EVERY = re.compile(r"\b(?:every|each|all(?:\s+the|\s+of\s+the)?)\s+(word|line)s?\b", re.IGNORECASE)
_ALPHABET = re.compile(r"\balphabet(?:ical(?:ly)?)?\b", re.IGNORECASE)
_REVERSE = re.compile(r"\b(?:reverse|backwards?|descending)\b", re.IGNORECASE)
_FIRST_LETTER = re.compile(
    rf"\b(?:starting|beginning|start|begin|starts|begins)\s+(?:with|from|at)\s+"
    rf"(?:the\s+)?(?:letter\s+)?{_Q}",
    re.IGNORECASE,
)
_EDGE_PUNCT = " \t\"'“”‘’*_.,;:!?-()"
_VERBS = {"start": "start with", "end": "end with", "contains": "contain"}
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_MARKER = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.):]|[a-z][.)])\s+", re.IGNORECASE)
_GLOSS = re.compile(r"\s+(?:[-–—:(]|=)\s*.*$|:\s.*$")


@dataclass(frozen=True, slots=True)
class WordRule:
    """One checkable rule: ``kind`` and its ``value`` (letters or a number)."""

    kind: str
    value: str
    scope: str = "items"


def _spans_overlap(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


def _letter_rules(task: str, scope: str) -> list[WordRule]:
    rules: list[WordRule] = []
    taken: list[tuple[int, int]] = []
    for match in _NEGATED_CONTAINS.finditer(task):
        where = "items" if scope == "items" else "text"
        rules.append(WordRule("excludes", match.group("x"), where))
        taken.append(match.span())
    for kind, pattern in (("start", _STARTS), ("end", _ENDS)):
        for match in pattern.finditer(task):
            if not _spans_overlap(match.span(), taken):
                rules.append(WordRule(kind, match.group("x"), scope))
                taken.append(match.span())
    for match in _CONTAINS.finditer(task):
        if not _spans_overlap(match.span(), taken):
            rules.append(WordRule("contains", match.group("x"), scope))
    return rules


def _alphabet_rule(task: str) -> WordRule | None:
    if not _ALPHABET.search(task):
        return None
    first = _FIRST_LETTER.search(task)
    reverse = bool(_REVERSE.search(task))
    start = first.group("x").strip().lower()[:1] if first else ("z" if reverse else "a")
    if start not in string.ascii_lowercase:
        return None
    return WordRule("alphabet_reverse" if reverse else "alphabet", start, "words")


def wordgame_rules(task: str) -> list[WordRule]:
    """The rules of a word-game prompt that code can check (empty: nothing checkable).

    Example:
        >>> [(r.kind, r.value) for r in wordgame_rules("List 6 words with exactly 5 letters "
        ...                                             "that start with 'b'.")]
        [('count', '6'), ('letters', '5'), ('start', 'b')]
    """
    is_text = bool(_TEXT_FORMS.search(task)) or not _LIST_VERB.search(task)
    rules: list[WordRule] = []
    if not is_text:
        count = _LIST_COUNT.search(task)
        if count:
            rules.append(WordRule("count", count.group(1)))
        letters = _LETTER_COUNT.search(task)
        if letters:
            rules.append(WordRule("letters", letters.group(1)))
        return rules + _letter_rules(task, "items")
    exact = _EXACT_WORDS.search(task)
    if exact:
        rules.append(WordRule("word_count", exact.group(1), "text"))
    alphabet = _alphabet_rule(task)
    if alphabet is not None:
        return rules + [alphabet] + [r for r in _letter_rules(task, "") if r.kind == "excludes"]
    every = _EVERY.search(task)
    scope = (every.group(1).lower() + "s") if every else ""
    for rule in _letter_rules(task, scope):
        if rule.kind == "excludes" or rule.scope:
            rules.append(rule)
    return rules


def listed_words(response: str) -> list[str]:
    """The words of a list answer: markers, markdown and glosses removed.

    Lines with a list marker are the items when there are any (a preamble line is
    then ignored); otherwise a single comma-separated line is split; otherwise each
    line is an item. Lines ending with ':' are headings.

    Example:
        >>> listed_words("Here you go:\\n1. **Quill** - a pen\\n2. Quiet (adj.)")
        ['Quill', 'Quiet']
        >>> listed_words("apple, banana, cherry.")
        ['apple', 'banana', 'cherry']
    """
    lines = [line.strip() for line in response.replace("\r", "").split("\n")]
    lines = [line for line in lines if line and not line.endswith(":")]
    marked = [line for line in lines if _MARKER.match(line)]
    if marked:
        raw = [_MARKER.sub("", line, count=1) for line in marked]
    elif len(lines) == 1 and "," in lines[0]:
        raw = lines[0].split(",")
    else:
        raw = lines
    words = []
    for item in raw:
        item = item.replace("**", "").replace("__", "").replace("`", "").strip()
        item = _GLOSS.sub("", item).strip(" \t\"'“”‘’.,;!?")
        if item:
            words.append(item)
    return words


def _letters_only(word: str) -> str:
    return "".join(ch for ch in word if ch.isalpha())


def _check_item(word: str, rule: WordRule) -> str | None:
    low, value = word.casefold(), rule.value.casefold()
    if rule.kind == "start" and not low.startswith(value):
        return f"word {word!r} does not start with {rule.value!r}"
    if rule.kind == "end" and not low.endswith(value):
        return f"word {word!r} does not end with {rule.value!r}"
    if rule.kind == "contains" and value not in low:
        return f"word {word!r} does not contain {rule.value!r}"
    if rule.kind == "excludes" and value in low:
        return f"word {word!r} contains {rule.value!r}"
    if rule.kind == "letters" and len(_letters_only(word)) != int(rule.value):
        return f"word {word!r} does not have {rule.value} letters"
    return None


def _check_alphabet(words: list[str], rule: WordRule) -> str | None:
    step = -1 if rule.kind == "alphabet_reverse" else 1
    expected = ord(rule.value)
    for word in words:
        if not ord("a") <= expected <= ord("z"):
            break
        if word[:1].casefold() != chr(expected):
            return f"word {word!r} should start with {chr(expected)!r}"
        expected += step
    return None


def _check_text(response: str, rule: WordRule) -> str | None:
    words = _WORD.findall(response)
    if rule.kind == "word_count" and len(words) != int(rule.value):
        return f"the answer has {len(words)} words, not {rule.value}"
    if rule.kind == "excludes":
        hits = [w for w in words if rule.value.casefold() in w.casefold()]
        if hits:
            return f"word {hits[0]!r} contains {rule.value!r}"
    if rule.kind in ("alphabet", "alphabet_reverse"):
        return _check_alphabet(words, rule)
    if rule.scope == "words":
        for word in words:
            problem = _check_item(word, rule)
            if problem:
                return problem
    if rule.scope == "lines":
        for line in response.split("\n"):
            text = line.strip().strip(_EDGE_PUNCT)
            if text and _check_item(text, rule):
                return f"line {text[:40]!r} does not {_VERBS[rule.kind]} {rule.value!r}"
    return None


def check_wordgame(record: Record) -> Verdict:
    """Fail a word-game answer that breaks a rule its prompt states."""
    response = record.response
    if not response.strip():
        return Verdict.failed("empty answer")
    rules = wordgame_rules(record.instruction)
    items = [r for r in rules if r.scope == "items"]
    if items:
        words = listed_words(response)
        for rule in items:
            if rule.kind == "count":
                if len(words) != int(rule.value):
                    return Verdict.failed(f"{len(words)} words listed, not {rule.value}")
                continue
            for word in words:
                problem = _check_item(word, rule)
                if problem:
                    return Verdict.failed(problem)
    for rule in rules:
        if rule.scope != "items":
            problem = _check_text(response, rule)
            if problem:
                return Verdict.failed(problem)
    return Verdict.passed()
