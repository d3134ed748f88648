"""``awareness``: what a model can and cannot know about time, place, body and senses.

Teaches (a) the default assistant that it has no clock, location, body or senses,
(b) to use context when it is given, and (c) embodied characters to answer as the
people they are. One round = one call, of one of three kinds drawn from ``ctx.rng``:

* ``location`` / ``temporal``: ``QUESTION`` / ``CONTEXT`` / ``ANSWER`` /
  ``CONTEXTUAL_ANSWER`` blocks. Rows: the question with the no-context answer, and
  the question with the context as system prompt and the contextual answer.
* ``character`` (sub-kind corporeal, location or sensorial): a stored card that is
  not an AI; ``QUESTION`` / ``ANSWER`` / ``CONTEXTUAL_ANSWER``. Rows: the question
  with the default assistant's answer, and the question put by a named person to the
  character (system prompt: the character's description) with the character's answer.

The two rows of a question share a ``unit``: a question counts once (the original
counted both rows). If no card is human (or there are no cards) only the location
and temporal kinds are drawn — never a loop (the original spun forever when every
card was an AI). A contextual answer equal to the plain one, or a character answer
that says "as a human"/"as an AI", is rejected.

Example:
    >>> choose_kind(random.Random(1), AwarenessConfig(), has_humans=False)
    'location'
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from airloom.instructors.base import (
    Draft,
    Instructor,
    PromptTemplate,
    RoundContext,
    complete_items,
    load_template,
)
from airloom.instructors.characters import (
    Card,
    cards_from_records,
    chat_between_system,
    cut_at_markers,
    group_fields,
    stable_id,
    straight_quotes,
    strip_speaker,
)
from airloom.instructors.settings.awareness import AwarenessConfig
from airloom.reasons import Reason

__all__ = [
    "CHARACTER_KINDS",
    "AwarenessInstructor",
    "character_answer",
    "choose_kind",
    "parse_character_blocks",
    "parse_context_blocks",
]

CHARACTER_KINDS: dict[str, tuple[str, str]] = {
    "corporeal": (
        "their own body and physical presence",
        "what touching a cold window feels like; telling left from right in the dark; "
        "how tired they feel after climbing stairs; what they can reach from where they sit; "
        "how long a minute of waiting feels",
    ),
    "location": (
        "where they are and the places around them",
        "their address; how far the nearest big city is; the nearest waterfall; where they "
        "would go on holiday; how long a trip to the coast takes; which way the sea lies",
    ),
    "sensorial": (
        "their physical senses",
        "what watermelon tastes like; their favourite colour in a rainbow; whether lavender or "
        "rosemary smells stronger; the smell of cut grass; what petting a kangaroo would feel "
        "like; recognising a guitar chord by ear",
    ),
}

_BROKEN_CHARACTER = re.compile(r"\bas an? (?:human|ai\b|artificial|language model)", re.I)


def choose_kind(rng: random.Random, config: AwarenessConfig, *, has_humans: bool) -> str:
    """``location``, ``temporal`` or ``character`` (only when a human card exists;
    otherwise the character share goes to the other two).

    Example:
        >>> choose_kind(random.Random(0), AwarenessConfig(location_ratio=0, temporal_ratio=0),
        ...             has_humans=True)
        'character'
    """
    draw = rng.random()
    if draw < config.location_ratio:
        return "location"
    if draw < config.location_ratio + config.temporal_ratio:
        return "temporal"
    if has_humans:
        return "character"
    if config.location_ratio + config.temporal_ratio == 0:
        return rng.choice(["location", "temporal"])
    share = config.location_ratio / (config.location_ratio + config.temporal_ratio)
    return "location" if rng.random() < share else "temporal"


def parse_context_blocks(text: str) -> list[dict[str, str] | str]:
    """Location/temporal blocks; an incomplete block becomes the reason it is unusable.

    Example:
        >>> parse_context_blocks("QUESTION: q?\\nCONTEXT: c\\nANSWER: a\\nCONTEXTUAL_ANSWER: b")
        [{'QUESTION': 'q?', 'CONTEXT': 'c', 'ANSWER': 'a', 'CONTEXTUAL_ANSWER': 'b'}]
    """
    return _blocks(text, ("QUESTION", "CONTEXT", "ANSWER", "CONTEXTUAL_ANSWER"))


def parse_character_blocks(text: str) -> list[dict[str, str] | str]:
    """Character blocks (no CONTEXT); an incomplete block becomes its reason.

    Example:
        >>> parse_character_blocks("QUESTION: q?\\nANSWER: a")
        ['missing CONTEXTUAL_ANSWER']
    """
    return _blocks(text, ("QUESTION", "ANSWER", "CONTEXTUAL_ANSWER"))


def _blocks(text: str, keys: tuple[str, ...]) -> list[dict[str, str] | str]:
    out: list[dict[str, str] | str] = []
    for group in group_fields(text, keys):
        missing = [key for key in keys if not group.get(key)]
        if missing:
            out.append(f"missing {', '.join(missing)}")
        else:
            out.append({key: group[key] for key in keys})
    return out


def character_answer(text: str, name: str) -> str:
    """The character's answer without a leading ``As Name,`` or ``Name:``.

    Example:
        >>> character_answer("As Ann, I love the smell of bread.", "Ann")
        'I love the smell of bread.'
    """
    text = strip_speaker(cut_at_markers(straight_quotes(text), ("REMINDER:",)), name)
    text = re.sub(rf"^as {re.escape(name)},\s*", "", text, flags=re.IGNORECASE)
    return text[:1].upper() + text[1:]


class AwarenessInstructor(Instructor):
    """Temporal, location, corporeal and sensorial awareness (see the module docstring)."""

    name = "awareness"
    config_model = AwarenessConfig
    depends_on = ("character",)

    @property
    def awareness_config(self) -> AwarenessConfig:
        config = self.config
        assert isinstance(config, AwarenessConfig)
        return config

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.awareness_config
        cards = cards_from_records(await ctx.source_records(["character"]))
        humans = [card for card in cards if not card.is_ai]
        kind = choose_kind(ctx.rng, config, has_humans=bool(humans))
        if kind == "character":
            return await self._character_round(ctx, ctx.rng.choice(humans))
        return await self._context_round(ctx, kind)

    def _template(self, kind: str) -> PromptTemplate:
        config = self.awareness_config
        if kind == "character":
            return self.settings.template("awareness_character.txt")
        override = (
            config.location_prompt_path if kind == "location" else config.temporal_prompt_path
        )
        return load_template(f"awareness_{kind}.txt", override, base_dir=self.settings.base_dir)

    async def _generate(
        self,
        ctx: RoundContext,
        variant: str,
        parse: Callable[[str], list[dict[str, str] | str]],
        **values: str,
    ) -> list[dict[str, str] | str]:
        settings = self.settings
        template = self._template(variant)
        prompt = template.render(
            batch_size=settings.batch_size,
            language=settings.language,
            flesch=settings.flesch,
            **values,
        )
        return await complete_items(
            ctx, prompt, parse, key="questions", template=template, filtered=False
        )

    async def _context_round(self, ctx: RoundContext, kind: str) -> list[Draft]:
        blocks = self._usable(ctx, await self._generate(ctx, kind, parse_context_blocks))
        novel = await ctx.novel([block["QUESTION"] for block in blocks])
        drafts: list[Draft] = []
        for block, ok in zip(blocks, novel, strict=True):
            if not ok:
                continue
            question, context = block["QUESTION"], block["CONTEXT"]
            plain, contextual = block["ANSWER"], block["CONTEXTUAL_ANSWER"]
            if " ".join(plain.split()) == " ".join(contextual.split()):
                ctx.reject(Reason.SAME_ANSWERS, question[:80])
                continue
            unit = f"awareness:{stable_id(question)}"
            meta = {"kind": kind}
            drafts.append(Draft(question, plain, unit=unit, meta={**meta, "variant": "plain"}))
            drafts.append(
                Draft(
                    question,
                    contextual,
                    system=f"A chat. {context}",
                    unit=unit,
                    dedup_text=f"{context}\n{contextual}",
                    meta={**meta, "variant": "context", "context": context},
                )
            )
        return drafts

    async def _character_round(self, ctx: RoundContext, card: Card) -> list[Draft]:
        sub_kind = ctx.rng.choice(sorted(CHARACTER_KINDS))
        about, examples = CHARACTER_KINDS[sub_kind]
        person = ctx.rng.choice(self.awareness_config.interviewer_names)
        parsed = await self._generate(
            ctx,
            "character",
            parse_character_blocks,
            name=card.name,
            description=card.description,
            kind=about,
            examples=examples,
        )
        blocks = self._usable(ctx, parsed)
        novel = await ctx.novel([block["QUESTION"] for block in blocks])
        drafts: list[Draft] = []
        for block, ok in zip(blocks, novel, strict=True):
            if not ok:
                continue
            question = block["QUESTION"]
            answer = character_answer(block["CONTEXTUAL_ANSWER"], card.name)
            if not answer or _BROKEN_CHARACTER.search(answer):
                ctx.reject(Reason.BROKE_CHARACTER, answer[:80])
                continue
            unit = f"awareness:{stable_id(card.name, question)}"
            meta = {"kind": f"character/{sub_kind}", "character": card.name, "card_id": card.id}
            drafts.append(
                Draft(question, block["ANSWER"], unit=unit, meta={**meta, "variant": "plain"})
            )
            drafts.append(
                Draft(
                    f"{person}: {question}",
                    f"{card.name}: {answer}",
                    system=chat_between_system(card, person),
                    unit=unit,
                    dedup_text=f"{card.name}: {answer}",
                    meta={**meta, "variant": "character"},
                )
            )
        return drafts

    def _usable(
        self, ctx: RoundContext, parsed: list[dict[str, str] | str]
    ) -> list[dict[str, str]]:
        blocks: list[dict[str, str]] = []
        for item in parsed[: self.settings.batch_size]:
            if isinstance(item, str):
                ctx.reject(Reason.UNPARSEABLE, item)
            else:
                blocks.append(item)
        if not parsed:
            ctx.reject(Reason.UNPARSEABLE, "no QUESTION blocks")
        return blocks

    def expected_yield(self) -> int:
        return max(1, self.settings.batch_size)
