"""Multi-step rules with acknowledgement: a catalogue of rules code can check.

A rules conversation (3.x cards): the user announces rules and asks for "OK" after each;
every rule is one user message answered exactly ``OK``; a last user message sets a task
whose answer must obey all rules. Every rule here comes from :data:`KINDS`: a kind has
phrasings (templates with one ``{value}``), a value pool and a checker, and a phrasing
can be parsed back into the rule, so a conversation can be verified from its text
alone (no metadata needed).

Example:
    >>> rule = Rule("start_with", "ZOOZOO:")
    >>> rule.text(1)
    'Precede all responses with "ZOOZOO:".'
    >>> parse_rule('Precede all responses with "ZOOZOO:".') == rule
    True
    >>> rule.problem("ZOOZOO: 🦁🐯"), rule.problem("🦁")
    (None, 'does not start with "ZOOZOO:"')
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airloom.checks import Verdict
from airloom.checks.lengths import count_words
from airloom.formats.records import Record

__all__ = [
    "ACK",
    "CONFLICTS",
    "INTRO_MESSAGES",
    "KINDS",
    "Kind",
    "Rule",
    "RulesConversation",
    "build_turns",
    "check_rules",
    "compatible",
    "parse_rule",
    "parse_rules_conversation",
    "rules_problems",
    "sample_rules",
]

INTRO_MESSAGES = (
    'I\'m going to set some rules for our conversation. Please respond with "OK" to each rule.',
    'I will give you a few rules, one at a time. Reply with just "OK" to each of them.',
    'Before my question, here are some rules for your replies. Answer each rule with "OK".',
    'Let\'s set some ground rules first. Acknowledge each one by replying "OK".',
)
ACK = "OK"
_INTRO_RE = re.compile(r"\brules?\b.*\bOK\b", re.IGNORECASE | re.DOTALL)
_BULLET_RE = re.compile(r"^\s*[-*•]\s+\S", re.MULTILINE)


def _words_re(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'’-]){re.escape(word)}(?![\w'’-])", re.IGNORECASE)


def _max_words(text: str, value: str) -> str | None:
    words = count_words(text)
    return None if words <= int(value) else f"has {words} words, more than {value}"


def _min_words(text: str, value: str) -> str | None:
    words = count_words(text)
    return None if words >= int(value) else f"has {words} words, fewer than {value}"


def _include(text: str, value: str) -> str | None:
    return None if _words_re(value).search(text) else f'does not use the word "{value}"'


def _forbid(text: str, value: str) -> str | None:
    return f'uses the word "{value}"' if _words_re(value).search(text) else None


def _lowercase(text: str, value: str) -> str | None:
    capitals = [c for c in text if c.isupper()]
    return f"has capital letters ({''.join(capitals[:5])})" if capitals else None


def _uppercase(text: str, value: str) -> str | None:
    small = [c for c in text if c.islower()]
    return f"has lowercase letters ({''.join(small[:5])})" if small else None


def _no_commas(text: str, value: str) -> str | None:
    return "uses commas" if "," in text or "，" in text else None


def _no_digits(text: str, value: str) -> str | None:
    return "uses digits" if any(c.isdigit() for c in text) else None


def _start_with(text: str, value: str) -> str | None:
    return None if text.lstrip().startswith(value) else f'does not start with "{value}"'


def _end_with(text: str, value: str) -> str | None:
    tail = text.rstrip().rstrip(".!")
    return None if tail.endswith(value.rstrip(".!")) else f'does not end with "{value}"'


def _question_end(text: str, value: str) -> str | None:
    return None if text.rstrip().endswith("?") else "does not end with a question"


def _bullets(text: str, value: str) -> str | None:
    found = len(_BULLET_RE.findall(text))
    return None if found == int(value) else f"has {found} bullet points, not {value}"


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of rule: how it is phrased, its values and its checker."""

    name: str
    phrasings: tuple[str, ...]
    values: tuple[str, ...]
    checker: Callable[[str, str], str | None]
    numeric: bool = False


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "max_words",
            (
                "Use at most {value} words in every response.",
                "Never write more than {value} words in a reply.",
            ),
            ("40", "50", "60", "80", "100"),
            _max_words,
            numeric=True,
        ),
        Kind(
            "min_words",
            (
                "Every response must be at least {value} words long.",
                "Write no fewer than {value} words in each reply.",
            ),
            ("15", "20", "25", "30"),
            _min_words,
            numeric=True,
        ),
        Kind(
            "include_word",
            (
                'Every response must include the word "{value}".',
                'Make sure to use the word "{value}" in each reply.',
            ),
            ("lantern", "harbor", "velvet", "compass", "meadow", "ember", "orchard", "granite"),
            _include,
        ),
        Kind(
            "forbid_word",
            ('Never use the word "{value}".', 'Do not say "{value}" in any response.'),
            ("very", "really", "just", "thing", "nice", "basically", "actually"),
            _forbid,
        ),
        Kind(
            "lowercase",
            ("Write only in lowercase letters.", "Do not use any capital letters."),
            ("",),
            _lowercase,
        ),
        Kind(
            "uppercase",
            ("Write everything in capital letters.", "Respond only in uppercase letters."),
            ("",),
            _uppercase,
        ),
        Kind(
            "no_commas",
            ("Do not use any commas.", "Never use a comma in your replies."),
            ("",),
            _no_commas,
        ),
        Kind(
            "no_digits",
            (
                "Do not use any digits; spell numbers out in words.",
                "Never write a numeral; use words for numbers.",
            ),
            ("",),
            _no_digits,
        ),
        Kind(
            "start_with",
            ('Begin every response with "{value}".', 'Precede all responses with "{value}".'),
            ("ZOOZOO:", "Captain's log:", "Hear ye:", "Breaking news:", "Fun fact:"),
            _start_with,
        ),
        Kind(
            "end_with",
            (
                'End every response with the exact phrase "{value}"',
                'Finish each reply with "{value}"',
            ),
            ("Over and out.", "Stay curious!", "That is all.", "Until next time."),
            _end_with,
        ),
        Kind(
            "question_end",
            ("End every response with a question.", "Always finish your reply with a question."),
            ("",),
            _question_end,
        ),
        Kind(
            "bullets",
            (
                'Format every response as exactly {value} bullet points starting with "- ".',
                "Answer with exactly {value} bullet points, each on its own line beginning "
                "with a dash.",
            ),
            ("2", "3", "4", "5"),
            _bullets,
            numeric=True,
        ),
    )
}

#: Pairs of kinds that cannot hold together.
CONFLICTS: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in (
        ("lowercase", "uppercase"),
        ("end_with", "question_end"),
        ("max_words", "min_words"),
        ("bullets", "question_end"),
        ("bullets", "end_with"),
        ("bullets", "start_with"),
    )
)


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule of one kind with its value ("" for kinds without one)."""

    kind: str
    value: str = ""

    def text(self, phrasing: int = 0) -> str:
        """The rule as a user message, in one of its kind's phrasings.

        Example:
            >>> Rule("max_words", "50").text()
            'Use at most 50 words in every response.'
        """
        template = KINDS[self.kind].phrasings[phrasing % len(KINDS[self.kind].phrasings)]
        text = template.format(value=self.value)
        return text if text.endswith((".", "!", "?")) else text + "."

    def problem(self, answer: str) -> str | None:
        """Why ``answer`` breaks this rule, or None when it obeys it.

        Example:
            >>> Rule("no_commas").problem("Yes, indeed.")
            'uses commas'
        """
        return KINDS[self.kind].checker(answer, self.value)


def _phrasing_regex(template: str, numeric: bool) -> re.Pattern[str]:
    body = re.escape(template).replace(
        r"\{value\}", r"(?P<value>\d+)" if numeric else "(?P<value>.+?)"
    )
    return re.compile(rf"^\s*{body}\.?\s*$", re.IGNORECASE)


_PARSERS: list[tuple[str, re.Pattern[str]]] = [
    (kind.name, _phrasing_regex(template, kind.numeric))
    for kind in KINDS.values()
    for template in kind.phrasings
]


def parse_rule(message: str) -> Rule | None:
    """The rule a user message states, or None when it is not one of the catalogue.

    Example:
        >>> parse_rule("Never write more than 60 words in a reply.")
        Rule(kind='max_words', value='60')
        >>> parse_rule("Be nice.") is None
        True
    """
    for kind, pattern in _PARSERS:
        match = pattern.match(message)
        if match:
            value = match.groupdict().get("value") or ""
            if kind in ("start_with", "end_with") and value:
                value = _restore_case(message, value)
            return Rule(kind, value)
    return None


def _restore_case(message: str, value: str) -> str:
    index = message.lower().find(value.lower())
    return message[index : index + len(value)] if index >= 0 else value


def compatible(kinds: Sequence[str]) -> bool:
    """Whether a set of rule kinds can all hold at once.

    Example:
        >>> compatible(["lowercase", "no_commas"]), compatible(["lowercase", "uppercase"])
        (True, False)
    """
    return not any(
        frozenset((a, b)) in CONFLICTS for i, a in enumerate(kinds) for b in kinds[i + 1 :]
    )


def _case_value(value: str, kinds: set[str]) -> str:
    if "lowercase" in kinds:
        return value.lower()
    if "uppercase" in kinds:
        return value.upper()
    return value


def sample_rules(rng: random.Random, count: int, kinds: Sequence[str] | None = None) -> list[Rule]:
    """``count`` compatible rules of distinct kinds, values fitted to case rules.

    Example:
        >>> rules = sample_rules(random.Random(3), 4)
        >>> len(rules), compatible([r.kind for r in rules])
        (4, True)
    """
    pool = list(kinds or KINDS)
    for _ in range(200):
        chosen = rng.sample(pool, min(count, len(pool)))
        if compatible(chosen):
            break
    else:
        raise ValueError(f"cannot find {count} compatible rule kinds among {pool}")
    present = set(chosen)
    rules = []
    for name in chosen:
        value = rng.choice(KINDS[name].values)
        if name in ("start_with", "end_with"):
            value = _case_value(value, present)
        rules.append(Rule(name, value))
    return rules


def rules_problems(answer: str, rules: Sequence[Rule]) -> list[str]:
    """Every rule the answer breaks, as ``kind: reason`` strings.

    Example:
        >>> rules_problems("Hello, World", [Rule("lowercase"), Rule("no_commas")])
        ['lowercase: has capital letters (HW)', 'no_commas: uses commas']
    """
    problems = []
    for rule in rules:
        problem = rule.problem(answer)
        if problem:
            problems.append(f"{rule.kind}: {problem}")
    return problems


@dataclass(frozen=True, slots=True)
class RulesConversation:
    """A parsed rules conversation."""

    rules: list[Rule]
    task: str
    answer: str


def parse_rules_conversation(turns: Sequence[Mapping[str, Any]]) -> RulesConversation:
    """Read a conversation of intro / OK / rule / OK … / task / answer turns.

    Raises ValueError naming the first structural problem.

    Example:
        >>> turns = [{"role": "user", "content": INTRO_MESSAGES[0]},
        ...          {"role": "assistant", "content": "OK"},
        ...          {"role": "user", "content": "Do not use any commas."},
        ...          {"role": "assistant", "content": "OK"},
        ...          {"role": "user", "content": "Describe a kite."},
        ...          {"role": "assistant", "content": "A kite dances on the wind."}]
        >>> parse_rules_conversation(turns).rules
        [Rule(kind='no_commas', value='')]
    """
    body = [turn for turn in turns if turn.get("role") != "system"]
    roles = [turn.get("role") for turn in body]
    if len(body) < 6 or roles != ["user", "assistant"] * (len(body) // 2) or len(body) % 2:
        raise ValueError("expected alternating user/assistant turns: intro, rules, task, answer")
    texts = [str(turn.get("content", "")) for turn in body]
    if not _INTRO_RE.search(texts[0]):
        raise ValueError("the first user message does not announce rules")
    for index in range(1, len(texts) - 2, 2):
        if texts[index].strip() != ACK:
            raise ValueError(f"assistant turn {index // 2 + 1} is {texts[index][:40]!r}, not OK")
    rules = []
    for message in texts[2:-2:2]:
        rule = parse_rule(message)
        if rule is None:
            raise ValueError(f"unrecognised rule {message[:60]!r}")
        rules.append(rule)
    return RulesConversation(rules, texts[-2], texts[-1])


def build_turns(
    intro: str, rule_texts: Sequence[str], task: str, answer: str
) -> list[dict[str, str]]:
    """The user/assistant turns of a rules conversation (no system turn).

    Example:
        >>> [t["content"] for t in build_turns("Rules; say OK.", ["No commas."], "Go.", "Gone")]
        ['Rules; say OK.', 'OK', 'No commas.', 'OK', 'Go.', 'Gone']
    """
    turns = [{"role": "user", "content": intro}, {"role": "assistant", "content": ACK}]
    for text in rule_texts:
        turns += [{"role": "user", "content": text}, {"role": "assistant", "content": ACK}]
    turns += [{"role": "user", "content": task}, {"role": "assistant", "content": answer}]
    return turns


def check_rules(record: Record) -> Verdict:
    """Every rule is acknowledged with exactly OK and the final answer obeys them all.

    Example:
        >>> turns = build_turns(INTRO_MESSAGES[0], [Rule("lowercase").text()], "Name a bird.",
        ...                     "A Robin.")
        >>> from airloom.formats.records import make_record
        >>> check_rules(make_record("rules", "Name a bird.", "A Robin.", conversation=turns)).reason
        'lowercase: has capital letters (AR)'
    """
    turns = record.conversation
    if not turns:
        return Verdict.failed("no conversation turns")
    try:
        parsed = parse_rules_conversation([t.as_dict() for t in turns])
    except ValueError as exc:
        return Verdict.failed(str(exc))
    if not parsed.rules:
        return Verdict.failed("no rules were set")
    if record.response not in (None, parsed.answer):
        return Verdict.failed("the response differs from the last assistant turn")
    problems = rules_problems(parsed.answer, parsed.rules)
    return Verdict.failed("; ".join(problems)) if problems else Verdict.passed()
