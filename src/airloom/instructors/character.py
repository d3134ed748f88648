"""``character``: character cards for the chat categories, kept in the store.

Not training data (``exported = False``: exports leave cards out unless asked for):
the cards are records of category ``character`` whose ``meta["card"]`` holds
``name``, ``description`` and ``stay_in_character``; rp, gtkm, stylized_response,
awareness, inline_actions and introspection declare ``depends_on = ("character",)``
and read them with ``ctx.source_records(["character"])`` — the cards are generated
once, by this instructor, before any of them starts, and ``count`` is the exact
number of cards (the gate never accepts more than the target).

Names are unique: a card's dedup text is its name, so the gate rejects a second
card with the same name atomically, even from rounds running at once.

One round = one call asking for ``batch_size`` cards in the
``DESCRIPTION:`` / ``NAME:`` / ``GUIDE:`` layout, shown one example description
(built-in, or ``*.txt`` files from ``seed_path``) and one topic per card.

Example:
    >>> parse_cards("DESCRIPTION: A baker from Lyon who hums while working.\\n"
    ...             "NAME: Ann Duval\\nGUIDE: Always reply as Ann.")[0].name
    'Ann Duval'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from airloom.checks import sessions as _card_checks  # noqa: F401  (registers)
from airloom.config import configured_path
from airloom.errors import ConfigError
from airloom.instructors.base import (
    Draft,
    Instructor,
    Rejected,
    RoundContext,
    complete_items,
)
from airloom.instructors.characters import Card, group_fields
from airloom.instructors.engines import topic_lines
from airloom.instructors.settings.character import CharacterConfig
from airloom.reasons import Reason

__all__ = [
    "CARD_KEYS",
    "CharacterInstructor",
    "ParsedCard",
    "builtin_examples",
    "card_draft",
    "card_from_fields",
    "copies_example",
    "load_examples",
    "parse_cards",
]

CARD_KEYS = ("DESCRIPTION", "NAME", "GUIDE")


@dataclass(frozen=True, slots=True)
class ParsedCard:
    """One card the teacher wrote, or why it cannot be used (``problem``)."""

    name: str = ""
    description: str = ""
    guide: str = ""
    problem: str = ""


def _clean_name(raw: str) -> str:
    name = raw.strip().splitlines()[0] if raw.strip() else ""
    name = re.sub(r"[\"“”*_`\[\]]", "", name).strip().rstrip(".,;:")
    return " ".join(name.split())


def parse_cards(
    text: str, *, max_name_words: int = 6, min_description_words: int = 12
) -> list[ParsedCard]:
    """Every card block of a reply; a block that cannot be used carries ``problem``.

    Example:
        >>> cards = parse_cards("DESCRIPTION: too short\\nNAME: X\\nGUIDE: Be X.")
        >>> cards[0].problem
        'description has 2 words (12 needed)'
    """
    return [
        card_from_fields(group, max_name_words, min_description_words)
        for group in group_fields(text, CARD_KEYS)
    ]


def card_from_fields(
    group: dict[str, str], max_name_words: int = 6, min_description_words: int = 12
) -> ParsedCard:
    """The card of one ``DESCRIPTION``/``NAME``/``GUIDE`` block (``problem`` says why not).

    Example:
        >>> card_from_fields({"NAME": "Ann"}).problem
        'missing DESCRIPTION, GUIDE'
    """
    missing = [key for key in CARD_KEYS if not group.get(key)]
    if missing:
        return ParsedCard(problem=f"missing {', '.join(missing)}")
    name = _clean_name(group["NAME"])
    description = group["DESCRIPTION"].strip()
    guide = group["GUIDE"].strip().split("\n\n")[0].strip()
    words = len(description.split())
    if not name or len(name.split()) > max_name_words:
        problem = f"name {group['NAME'][:60]!r} is not a short name"
    elif words < min_description_words:
        problem = f"description has {words} words ({min_description_words} needed)"
    else:
        problem = ""
    return ParsedCard(name, description, guide, problem)


def _grams(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def copies_example(description: str, example: str, n: int = 8) -> bool:
    """Whether a description repeats ``n`` consecutive words of the example it was shown
    (weak teachers copy the example instead of writing a new character).

    Example:
        >>> example = "Marcus Aurelius, Roman emperor from 161 to 180 AD, is a stoic philosopher."
        >>> copies_example("Marcus Aurelius, Roman emperor from 161 to 180 AD, rules.", example)
        True
        >>> copies_example("Ada Lund bakes rye bread in Lyon before dawn every day.", example)
        False
    """
    return bool(_grams(description, n) & _grams(example, n))


def builtin_examples() -> list[str]:
    """The packaged example descriptions.

    Example:
        >>> len(builtin_examples()) >= 3
        True
    """
    text = (
        resources.files("airloom.instructors")
        .joinpath("prompts", "character_examples.txt")
        .read_text(encoding="utf-8")
    )
    return [part.strip() for part in re.split(r"(?m)^-{4,}\s*$", text) if part.strip()]


def load_examples(seed_path: str | None, base_dir: Path | None) -> list[str]:
    """Examples from ``seed_path`` (sorted ``*.txt`` files), else the built-in ones."""
    folder = configured_path(seed_path, base_dir, "character_seeds")
    if folder is None:
        return builtin_examples()
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    examples = [f.read_text(encoding="utf-8").strip() for f in files]
    examples = [e for e in examples if e]
    if not examples:
        raise ConfigError(
            f"character seed_path {folder} holds no non-empty *.txt example",
            hint="point seed_path at a folder of example descriptions, or remove it",
        )
    return examples


def card_draft(card: ParsedCard) -> Draft:
    """The stored record of a card: readable text, the card JSON in ``meta``.

    Example:
        >>> d = card_draft(ParsedCard("Ann", "A baker.", "Be Ann."))
        >>> d.meta["card"]["name"], d.dedup_text
        ('Ann', 'Ann')
    """
    payload = Card(card.name, card.description, card.guide).to_meta()
    return Draft(
        instruction=f"Character card: {card.name}\n\n{card.description}",
        response=json.dumps(payload, ensure_ascii=False, indent=2),
        dedup_text=card.name,
        meta={"card": payload},
    )


class CharacterInstructor(Instructor):
    """Character cards (see the module docstring)."""

    name = "character"
    config_model = CharacterConfig
    uses_topics = True
    exported = False

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.config
        assert isinstance(config, CharacterConfig)
        settings = self.settings
        example = ctx.rng.choice(load_examples(config.seed_path, settings.base_dir))
        template = settings.template("character.txt")
        prompt = template.render(
            example=example,
            batch_size=settings.batch_size,
            topics=topic_lines("character", ctx.topics(settings.batch_size)),
            language=settings.language,
            flesch=settings.flesch,
            topic_avoidance=settings.topic_avoidance,
        )
        blocks = await complete_items(
            ctx,
            prompt,
            lambda text: group_fields(text, CARD_KEYS),
            key="cards",
            template=template,
            filtered=False,
        )
        parsed = [
            card_from_fields(block, config.max_name_words, config.min_description_words)
            for block in blocks
        ]
        if not parsed:
            ctx.reject(Reason.UNPARSEABLE, "no DESCRIPTION/NAME/GUIDE blocks")
            return []
        drafts: list[Draft] = []
        names: set[str] = set()
        for card in parsed[: settings.batch_size]:
            try:
                if card.problem:
                    raise Rejected(Reason.BAD_CARD, card.problem)
                if copies_example(card.description, example):
                    raise Rejected(Reason.COPIED_EXAMPLE, card.name)
                if card.name.casefold() in names:
                    raise Rejected(Reason.DUPLICATE_NAME, card.name)
            except Rejected as exc:
                ctx.reject(exc.reason, exc.detail)
                continue
            names.add(card.name.casefold())
            drafts.append(card_draft(card))
        novel = await ctx.novel([d.text_for_dedup() for d in drafts])
        return [draft for draft, ok in zip(drafts, novel, strict=True) if ok]
