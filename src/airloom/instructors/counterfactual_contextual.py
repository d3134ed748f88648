"""``counterfactual_contextual``: answer from the given text even when it is false.

One round = one generation call writing ``batch_size`` true paragraphs with a source
URL (``FACTS:``), the same paragraphs made false (``COUNTER:``) and one question per
paragraph (``QUESTIONS:``). Each complete fact yields exactly two records — the TRUE
and the FALSE paragraph, each as a closed-context prompt with the true URL as its
``url`` metadata and the same question (half of the time with a request for the
source) — answered by the response template. The original queued each pair once per
parsed fact (quadratic duplicates); here the output is parsed once.

Only the TRUE prompt is dedup-checked; the FALSE twin is stored with
``near_dedup=False`` (it is meant to be nearly the same text). Each record counts
as one unit, as in the original.

Example:
    >>> items, problems = parse_counterfactual(
    ...     "FACTS:\\n1. Paris is in France. [https://w/paris]\\n"
    ...     "COUNTER:\\n1. Paris is in Peru.\\nQUESTIONS:\\n1. Where is Paris?")
    >>> items[0].source, items[0].counter, problems
    ('https://w/paris', 'Paris is in Peru.', [])
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airloom.formats.closed_context import InputBlock, build_closed_context
from airloom.formats.fences import strip_fence_lines
from airloom.instructors.base import Draft, Instructor, RoundContext
from airloom.instructors.checked import enforce
from airloom.instructors.settings.counterfactual_contextual import CounterfactualConfig
from airloom.reasons import Reason

__all__ = [
    "CITE_PHRASES",
    "CounterfactualContextualInstructor",
    "CounterfactualItem",
    "counterfactual_prompt",
    "parse_counterfactual",
    "split_source",
]

CITE_PHRASES = (
    "Cite your source.",
    "What is your source?",
    "Please provide a reference.",
    "Include a citation.",
    "Where is this information from?",
    "Add the source of your answer.",
    "Provide a link to the source.",
    "Which reference supports this?",
    "Give your source.",
    "Please cite.",
)

_SECTION = re.compile(
    r"^[ \t#>*_]*(?P<name>FACTS?|COUNTER(?:[ _-]?FACTS?)?|QUESTIONS?)[ \t*_]*:[ \t*_]*",
    re.MULTILINE | re.IGNORECASE,
)
_ITEM = re.compile(r"^[ \t]*(?:[-*•][ \t]+)?(?:\*\*)?(\d{1,3})[.)](?:\*\*)?[ \t]+", re.MULTILINE)
_BULLET = re.compile(r"^[ \t]*[-*•][ \t]+", re.MULTILINE)
_BRACKETED_URL = re.compile(
    r"[\[(]\s*(?:[A-Za-z][\w ]{0,20}:\s*)?<?(?P<url>https?://[^\s\]()<>]+)>?\s*[\])]"
)
_TRAILING_URL = re.compile(
    r"(?:\b(?:source|url|link|reference)\s*:\s*)?<?(?P<url>https?://[^\s<>]+?)>?[.,;]?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class CounterfactualItem:
    """One parsed fact: the true paragraph, its source, the false one, the question."""

    number: int
    fact: str
    source: str
    counter: str
    question: str


def _section_name(raw: str) -> str:
    raw = raw.lower()
    if raw.startswith("fact"):
        return "facts"
    return "counter" if raw.startswith("counter") else "questions"


def _sections(text: str) -> dict[str, str] | str:
    """The three sections' bodies, or the name of the first missing one."""
    found: list[tuple[str, int, int]] = []
    wanted = ["facts", "counter", "questions"]
    for match in _SECTION.finditer(text):
        name = _section_name(match.group("name"))
        if len(found) < 3 and name == wanted[len(found)]:
            found.append((name, match.start(), match.end()))
    if len(found) < 3:
        return wanted[len(found)].upper()
    bodies = {}
    for index, (name, _, end) in enumerate(found):
        stop = found[index + 1][1] if index + 1 < len(found) else len(text)
        bodies[name] = text[end:stop]
    return bodies


def _items(body: str) -> list[tuple[int | None, str]]:
    """Numbered (or bulleted) items of a section, each with its number if any."""
    matches = list(_ITEM.finditer(body))
    numbered = True
    if not matches:
        matches, numbered = list(_BULLET.finditer(body)), False
    items: list[tuple[int | None, str]] = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(body)
        text = body[match.end() : end].strip()
        if text:
            items.append((int(match.group(1)) if numbered else None, text))
    return items


def _align(
    facts: list[tuple[int | None, str]],
    counters: list[tuple[int | None, str]],
    questions: list[tuple[int | None, str]],
) -> list[tuple[int, str, str | None, str | None]]:
    """Pair the sections item by item: by position when they have the same length
    (numbering drift is then harmless), else by number."""
    if len(facts) == len(counters) == len(questions):
        return [
            (index, fact, counter, question)
            for index, ((_, fact), (_, counter), (_, question)) in enumerate(
                zip(facts, counters, questions, strict=True), start=1
            )
        ]
    by_counter = {n: t for n, t in counters if n is not None}
    by_question = {n: t for n, t in questions if n is not None}
    out = []
    for position, (number, fact) in enumerate(facts, start=1):
        key = number if number is not None else position
        out.append((key, fact, by_counter.get(key), by_question.get(key)))
    return out


def split_source(fact: str) -> tuple[str, str | None]:
    """A fact paragraph without its source URL, and the URL (first bracketed one,
    else one at the very end).

    Example:
        >>> split_source("The tower is 330 m tall. [Source: https://w/tower]")
        ('The tower is 330 m tall.', 'https://w/tower')
        >>> split_source("No link here.")
        ('No link here.', None)
    """
    match = _BRACKETED_URL.search(fact) or _TRAILING_URL.search(fact)
    if match is None:
        return fact.strip(), None
    text = (fact[: match.start()] + fact[match.end() :]).strip()
    text = re.sub(r"\s*\b(?:source|url|link)\s*:\s*$", "", text, flags=re.IGNORECASE).strip()
    return text, match.group("url").rstrip(".,;")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.split("\n") if line.strip()), "")


def parse_counterfactual(
    text: str,
) -> tuple[list[CounterfactualItem], list[tuple[Reason, str]]]:
    """Parse a FACTS/COUNTER/QUESTIONS reply into complete items and problems.

    Problems are ``(reason, detail)`` pairs: ``unparseable`` for a missing section or
    a fact without its false version or question, ``no_source`` for a fact without a
    URL. A question is one line (prose after the last one is ignored).
    """
    text = strip_fence_lines(text.replace("\r\n", "\n").replace("\r", "\n"))
    sections = _sections(text)
    if isinstance(sections, str):
        return [], [(Reason.UNPARSEABLE, f"no {sections}: section in the reply")]
    facts = _items(sections["facts"])
    if not facts:
        return [], [(Reason.UNPARSEABLE, "no numbered items under FACTS:")]
    aligned = _align(facts, _items(sections["counter"]), _items(sections["questions"]))
    items: list[CounterfactualItem] = []
    problems: list[tuple[Reason, str]] = []
    for number, fact, counter, question in aligned:
        paragraph, source = split_source(fact)
        question_line = _first_line(question or "")
        if counter is None or not question_line:
            missing = "false version" if counter is None else "question"
            problems.append((Reason.UNPARSEABLE, f"fact {number} has no {missing}"))
        elif source is None:
            problems.append((Reason.NO_SOURCE, f"fact {number} has no source URL"))
        elif not paragraph:
            problems.append((Reason.UNPARSEABLE, f"fact {number} is only a URL"))
        else:
            items.append(CounterfactualItem(number, paragraph, source, counter, question_line))
    return items, problems


def counterfactual_prompt(paragraph: str, source: str, question: str, cite: str | None) -> str:
    """The closed-context prompt of one variant (``cite``: an extra request for the source).

    Example:
        >>> print(counterfactual_prompt("Ice is hot.", "https://w/ice", "Is ice hot?", "Source?"))
        BEGININPUT
        BEGINCONTEXT
        url: https://w/ice
        ENDCONTEXT
        Ice is hot.
        ENDINPUT
        BEGININSTRUCTION
        Is ice hot?
        Source?
        ENDINSTRUCTION
    """
    instruction = f"{question}\n{cite}" if cite else question
    return build_closed_context([InputBlock({"url": source}, paragraph)], instruction)


class CounterfactualContextualInstructor(Instructor):
    """TRUE and FALSE closed-context rows per fact (see the module docstring)."""

    name = "counterfactual_contextual"
    config_model = CounterfactualConfig

    def expected_yield(self) -> int:
        return 2 * max(1, self.settings.batch_size)

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.config
        assert isinstance(config, CounterfactualConfig)
        settings = self.settings
        template = settings.template("counterfactual_contextual.txt")
        prompt = template.render(batch_size=settings.batch_size, language=settings.language)
        reply = await ctx.complete(prompt, key="facts", template=template)
        items, problems = parse_counterfactual(reply)
        for reason, detail in problems:
            ctx.reject(reason, detail)
        items = items[: settings.batch_size]
        pairs = []
        for item in items:
            cite = ctx.rng.choice(CITE_PHRASES) if ctx.rng.random() < config.cite_ratio else None
            pairs.append(
                (
                    counterfactual_prompt(item.fact, item.source, item.question, cite),
                    counterfactual_prompt(item.counter, item.source, item.question, cite),
                )
            )
        novel = await ctx.novel([true for true, _ in pairs])
        jobs = [
            (text, variant)
            for (true, false), ok in zip(pairs, novel, strict=True)
            if ok
            for text, variant in ((true, "true"), (false, "false"))
        ]
        response_template = settings.template(
            "counterfactual_contextual_response.txt", response=True
        )

        async def answer(job: tuple[str, str]) -> Draft:
            instruction, variant = job
            response = await ctx.complete(
                response_template.render(
                    instruction=instruction, language=settings.language, flesch=settings.flesch
                ),
                key=f"response:{variant}",
            )
            draft = Draft(
                instruction=instruction,
                response=response.strip(),
                near_dedup=variant == "true",
                meta={"variant": variant},
            )
            return enforce(self.name, draft) if config.check_citations else draft

        return await ctx.map(answer, jobs)
