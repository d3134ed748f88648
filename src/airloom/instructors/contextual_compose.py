"""``contextual`` in compose mode: the teacher writes prose, the program writes the layout.

A small teacher cannot write the closed-context layout (blocks, metadata, tasks and cited
answers in one reply), but it can write a short text and a question about one detail of
it. In compose mode each item takes two teacher calls:

1. a passage in a given style about a topic (:func:`clean_passage` keeps its complete
   sentences and rejects placeholders, delimiters and texts too short to ask about);
2. a question about one detail the program picked from the passage (a number or a name,
   :func:`pick_detail`), and a short answer (:func:`parse_question`: the answer is kept
   only when it states the detail, otherwise the passage's own sentence answers).

The program then lays out the record exactly as the model cards document it
(:func:`compose_item`): the passage as a block with drawn metadata (:func:`draw_metadata`),
other passages of the round as distractor blocks, the question with a source request
when drawn, and the answer followed by the cited block's metadata under
``Reference(s):``. In a share of the items the sentence holding the detail is removed
from the passage, and the answer says the context does not tell (:func:`refusal`): the
trained model learns to decline instead of answering from what it thinks it knows.

Example:
    >>> detail = pick_detail(random.Random(0), "The ferry carried 212 people in 1998.")
    >>> detail.span in ("212", "1998")
    True
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from airloom.checks.introspection import key_words, normalise
from airloom.formats.closed_context import DELIMITER_WORD, InputBlock, build_closed_context
from airloom.instructors.base import Draft, Rejected, RoundContext, Truncated
from airloom.instructors.checked import enforce
from airloom.instructors.engines import copied_from_prompt
from airloom.instructors.parsing import lone_question, parse_qa_pairs
from airloom.instructors.settings.contextual import ContextualConfig
from airloom.reasons import Reason

__all__ = [
    "Detail",
    "Passage",
    "clean_passage",
    "compose_item",
    "compose_round",
    "draw_metadata",
    "parse_question",
    "pick_detail",
    "refusal",
    "sentences",
]

SOURCE_REQUESTS = (
    "Please provide references.",
    "What is your source?",
    "Cite your source.",
    "Source?",
    "Include your references.",
    "Where did you find this information?",
)

_REFUSALS = (
    "I don't know; the provided text does not say.",
    "The provided context does not mention this, so I cannot answer.",
    "The input does not say. I don't know.",
    "I cannot tell from the given text; it does not mention this.",
)

_FIRST = ("Lena", "Tomas", "Priya", "Marcus", "Ada", "Jun", "Sofia", "Kofi", "Ines", "Ravi")
_LAST = ("Ortiz", "Halvorsen", "Okafor", "Brandt", "Nakamura", "Keller", "Moreau", "Ruiz")
_DOMAINS = ("news.example", "blog.example", "notes.example", "journal.example", "city.example")
_SHAPES: tuple[tuple[str, ...], ...] = (
    ("date", "url"),
    ("url",),
    ("author", "title"),
    ("author", "date", "title"),
    ("source", "date"),
    ("title", "url"),
)

_PLACEHOLDER = re.compile(r"\[[^\]\n]{1,40}\]|<[^>\n]{1,40}>|\bLorem ipsum\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]*[^\s.!?\n][^.!?\n]*[.!?]+[\"')\]]*")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:\s?(?:%|percent\b))?")
_NAME = re.compile(r"(?<=\S )(?:[A-Z][a-z]+(?: (?:of |the |de )?[A-Z][a-z]+){0,3})")
_ASKS_READER = re.compile(
    r"\b(?:you|your|me|my|the (?:text|passage|sentence|article|input))\b", re.IGNORECASE
)
_TITLE = re.compile(r"\A(?:[#*\s]*[^\n.!?]{1,80}[*]*\s*\n)+(?=\s*\S)")
_MIN_WORDS = 30
_MAX_WORDS = 110
_MAX_SENTENCES = 7


@dataclass(frozen=True, slots=True)
class Passage:
    """A cleaned text block the teacher wrote, with the topic and style it was asked for."""

    text: str
    topic: str
    style: str


@dataclass(frozen=True, slots=True)
class Detail:
    """One checkable detail of a passage: ``span`` inside ``sentence``."""

    sentence: str
    span: str


def sentences(text: str) -> list[str]:
    """The complete sentences of ``text``, in order (a trailing fragment is dropped).

    Example:
        >>> sentences("It rained. The bridge opened in 1911! And then the")
        ['It rained.', 'The bridge opened in 1911!']
    """
    return [match.group(0).strip() for match in _SENTENCE.finditer(text)]


def clean_passage(text: str, prompt: str) -> str:
    """The teacher's passage cut after its last complete sentence, or Rejected.

    Example:
        >>> told = " ".join(f"Day {n}: the ferry carried {n * 12} people." for n in range(9))
        >>> text = clean_passage("# Ferries\\n\\n" + told + " It was", "p")
        >>> text[:9], text[-10:]
        ('Day 0: th', '72 people.')
        >>> clean_passage("Dear [Name], we met.", "p")
        Traceback (most recent call last):
        ...
        airloom.instructors.base.Rejected: placeholder: [Name]
    """
    body = _TITLE.sub("", text.strip()).strip()
    placeholder = _PLACEHOLDER.search(body)
    if placeholder:
        raise Rejected(Reason.PLACEHOLDER, placeholder.group(0))
    delimiter = DELIMITER_WORD.search(body)
    if delimiter:
        raise Rejected(Reason.LEAKED_DELIMITER, delimiter.group(0))
    found = list(_SENTENCE.finditer(body))
    said = [normalise(m.group(0)) for m in found]
    if len(said) >= 3 and len(set(said)) < 0.8 * len(said):
        raise Rejected(Reason.REPETITIVE, f"{len(said) - len(set(said))} repeated sentences")
    words = end = 0
    for number, match in enumerate(found, start=1):
        words += len(match.group(0).split())
        end = match.end()
        if words >= _MAX_WORDS or number >= _MAX_SENTENCES:
            break
    body = body[:end].strip()
    if len(body.split()) < _MIN_WORDS:
        raise Rejected(Reason.SOURCE_TOO_SHORT, f"{len(body.split())} words in whole sentences")
    if copied_from_prompt(body, prompt):
        raise Rejected(Reason.COPIED_PROMPT, body[:120])
    return body


def pick_detail(rng: random.Random, passage: str) -> Detail | None:
    """A number (preferred) or a name inside one sentence of ``passage``; None if there is
    neither. A span that occurs in more than one sentence is skipped: the question about
    it would be ambiguous, and removing its sentence would not remove the answer.

    Example:
        >>> pick_detail(random.Random(1), "We met at Lake Orun. It was cold.").span
        'Lake Orun'
        >>> pick_detail(random.Random(1), "it was cold. we left.") is None
        True
    """
    found = sentences(passage)
    numbers: list[Detail] = []
    names: list[Detail] = []
    for sentence in found:
        numbers += [Detail(sentence, m.group(0).strip()) for m in _NUMBER.finditer(sentence)]
        names += [Detail(sentence, m.group(0)) for m in _NAME.finditer(sentence)]
    for pool in (numbers, names):
        unique = [d for d in pool if sum(_mentions(s, d.span) for s in found) == 1]
        if unique:
            return rng.choice(unique)
    return None


def _mentions(text: str, span: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(span)}(?!\w)", text, re.IGNORECASE) is not None


def parse_question(text: str, detail: Detail) -> tuple[str, str]:
    """The teacher's question and an answer that states ``detail.span``, or Rejected.

    The question is the first ``QUESTION:`` / ``ANSWER:`` pair's (the instructors' shared
    parser), or a lone question line. The teacher's answer is kept when it states the
    span in one short sentence; otherwise the passage's own sentence is the answer.

    Example:
        >>> d = Detail("The ferry carried 212 people.", "212")
        >>> parse_question("QUESTION: How many people did the ferry carry?\\nANSWER: 212.", d)
        ('How many people did the ferry carry?', '212.')
        >>> parse_question("How many people rode the ferry?\\nANSWER: many", d)[1]
        'The ferry carried 212 people.'
    """
    pairs = parse_qa_pairs(text)
    question, answer = pairs[0] if pairs else (lone_question(text), "")
    question = " ".join(question.split())
    if not question.endswith("?") or len(question.split()) < 3:
        raise Rejected(Reason.NO_QUESTION, (question or text.strip())[:120])
    if len(question.split()) > 30 or _mentions(question, detail.span):
        raise Rejected(Reason.NO_QUESTION, f"the question gives its answer away: {question[:120]}")
    if _ASKS_READER.search(question):
        raise Rejected(Reason.NO_QUESTION, f"the question asks the reader: {question[:120]}")
    strays = [n.group(0).strip() for n in _NUMBER.finditer(question)]
    shared = key_words(question) & key_words(detail.sentence) - key_words(detail.span)
    if not shared or any(not _mentions(detail.sentence, n) for n in strays):
        raise Rejected(Reason.NO_QUESTION, f"not about the chosen sentence: {question[:120]}")
    if DELIMITER_WORD.search(question) or _PLACEHOLDER.search(question):
        raise Rejected(Reason.PLACEHOLDER, question[:120])
    usable = (
        _mentions(answer, detail.span)
        and len(answer.split()) <= 30
        and not DELIMITER_WORD.search(answer)
        and not _PLACEHOLDER.search(answer)
    )
    return question, answer if usable else detail.sentence


def draw_metadata(rng: random.Random, topic: str, style: str, year: int) -> dict[str, str]:
    """Metadata for one block: one of a few realistic shapes, values drawn at random.

    Example:
        >>> meta = draw_metadata(random.Random(0), "winter beekeeping", "blog post", 2026)
        >>> set(meta) <= {"date", "url", "author", "title", "source"}
        True
    """
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:40].strip("-") or "item"
    values = {
        "date": datetime.date(
            rng.randint(2012, year - 1), rng.randint(1, 12), rng.randint(1, 28)
        ).isoformat(),
        "url": f"https://{rng.choice(_DOMAINS)}/{slug}",
        "author": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        "title": topic[:1].upper() + topic[1:60],
        "source": f"{style[:1].upper()}{style[1:]} {rng.randint(1, 999)}",
    }
    return {key: values[key] for key in rng.choice(_SHAPES)}


def refusal(rng: random.Random) -> str:
    """An answer that declines because the context does not tell.

    Example:
        >>> "not" in refusal(random.Random(0))
        True
    """
    return rng.choice(_REFUSALS)


def compose_item(
    rng: random.Random,
    target: InputBlock,
    distractors: Sequence[InputBlock],
    task: str,
    answer: str,
    *,
    cite: bool,
) -> tuple[str, str]:
    """The instruction (blocks in a random order, then the task) and the response (the
    answer, followed by the target's metadata under ``Reference(s):`` when ``cite``).

    Example:
        >>> block = InputBlock({"url": "https://a/1"}, "Tilo is blue.")
        >>> instruction, response = compose_item(random.Random(0), block, [],
        ...     "What colour is Tilo? Source?", "Tilo is blue.", cite=True)
        >>> print(response)
        Tilo is blue.
        <BLANKLINE>
        Reference(s):
        url: https://a/1
    """
    blocks = [*distractors]
    blocks.insert(rng.randint(0, len(blocks)), target)
    response = answer
    if cite:
        lines = [f"{key}: {value}" for key, value in target.metadata.items()]
        response = f"{answer}\n\nReference(s):\n" + "\n".join(lines)
    return build_closed_context(blocks, task), response


_PASSAGE_PROMPT = "contextual_passage.txt"
_QUESTION_PROMPT = "contextual_question.txt"


async def compose_round(ctx: RoundContext, config: ContextualConfig) -> list[Draft]:
    """One compose-mode round: ``batch_size`` passages, one question each, laid out with
    the round's other passages as distractors."""
    settings = ctx.settings
    rng = ctx.rng
    count = settings.batch_size
    topics = ctx.topics(count)
    styles = [rng.choice(config.context_styles or ["news article"]) for _ in range(count)]
    passage_template = settings.template(_PASSAGE_PROMPT)
    question_template = settings.template(_QUESTION_PROMPT, response=True)

    async def write(index: int) -> Passage:
        topic = topics[index % len(topics)]
        prompt = passage_template.render(
            style=styles[index], topic=topic, language=settings.language, flesch=settings.flesch
        )
        try:
            text = await ctx.complete(prompt, key=f"passage:{index}")
        except Truncated as cut:
            text = cut.text  # whole sentences before the cut are a passage
        return Passage(clean_passage(text, prompt), topic, styles[index])

    passages = await ctx.map(write, list(range(count)))
    year = datetime.date.today().year
    blocks = [InputBlock(draw_metadata(rng, p.topic, p.style, year), p.text) for p in passages]

    async def ask(index: int) -> Draft:
        passage, block = passages[index], blocks[index]
        detail = pick_detail(rng, passage.text)
        if detail is None:
            raise Rejected(Reason.UNPARSEABLE, "no number or name to ask about in the passage")
        prompt = question_template.render(
            passage=passage.text,
            sentence=detail.sentence,
            detail=detail.span,
            language=settings.language,
        )
        reply = await ctx.complete(prompt, key="question", params={"stop": ["\n\n\n"]})
        question, answer = parse_question(reply, detail)
        others = [b for i, b in enumerate(blocks) if i != index]
        distractors = rng.sample(others, min(len(others), rng.choice([0, 0, 1, 1, 2])))
        target = block
        variant = "answerable"
        if rng.random() < config.unanswerable_ratio:
            rest = passage.text.replace(detail.sentence, " ").strip()
            if len(sentences(rest)) >= 2 and not _mentions(rest, detail.span):
                target = InputBlock(block.metadata, re.sub(r"[ \t]{2,}", " ", rest))
                answer, variant = refusal(rng), "unanswerable"
        asked = rng.random() < config.source_request_ratio
        task = f"{question} {rng.choice(SOURCE_REQUESTS)}" if asked else question
        instruction, response = compose_item(
            rng, target, distractors, task, answer, cite=asked and variant == "answerable"
        )
        return enforce(
            "contextual",
            Draft(
                instruction=instruction,
                response=response,
                topic=passage.topic,
                dedup_text=question + "\n" + passage.text,
                meta={"mode": "compose", "variant": variant, "detail": detail.span},
            ),
        )

    drafts = await ctx.map(ask, list(range(len(passages))))
    novel = await ctx.novel([d.text_for_dedup() for d in drafts])
    return [d for d, ok in zip(drafts, novel, strict=True) if ok]
