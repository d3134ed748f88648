"""``greeting``: a persona system prompt, a user's greeting, and the greeting in character.

One round = one call writing ``batch_size`` PERSONA/GREETING/RESPONSE blocks; each
becomes a record whose ``system`` is the persona, instruction the user's greeting and
response the in-character reply. Incomplete blocks are rejected (``unparseable``).

Example:
    >>> drafts_from_blocks([{"PERSONA": "You are a pirate.", "GREETING": "Hi!",
    ...                      "RESPONSE": "Ahoy, matey!"}])[0].system
    'You are a pirate.'
"""

from __future__ import annotations

from collections.abc import Sequence

from airloom.instructors.base import Draft, Instructor, RoundContext
from airloom.instructors.verified import parse_field_blocks
from airloom.reasons import Reason

__all__ = ["KEYS", "GreetingInstructor", "drafts_from_blocks"]

KEYS = ("PERSONA", "GREETING", "RESPONSE")


def drafts_from_blocks(blocks: Sequence[dict[str, str]]) -> list[Draft]:
    """Records from parsed blocks (deduplicated on persona and greeting).

    Example:
        >>> draft = drafts_from_blocks([{"PERSONA": "A  cat.", "GREETING": "Hi",
        ...                               "RESPONSE": "Mew."}])[0]
        >>> draft.system, draft.instruction, draft.response
        ('A cat.', 'Hi', 'Mew.')
    """
    return [
        Draft(
            instruction=block["GREETING"],
            response=block["RESPONSE"],
            system=" ".join(block["PERSONA"].split()),
            dedup_text=f"{block['PERSONA']}\n{block['GREETING']}",
        )
        for block in blocks
    ]


class GreetingInstructor(Instructor):
    """Greetings answered in a persona given as the system prompt."""

    name = "greeting"

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        template = self.settings.template("greeting.txt")
        prompt = template.render(
            batch_size=self.settings.batch_size,
            language=self.settings.language,
            topic_avoidance=self.settings.topic_avoidance,
        )
        text = await ctx.complete(prompt, key="greetings", template=template)
        blocks, incomplete = parse_field_blocks(text, KEYS)
        for _ in range(incomplete):
            ctx.reject(Reason.UNPARSEABLE, "a PERSONA/GREETING/RESPONSE block is incomplete")
        drafts = drafts_from_blocks(blocks[: self.settings.batch_size])
        if not drafts:
            if not incomplete:
                ctx.reject(Reason.UNPARSEABLE, "no PERSONA/GREETING/RESPONSE blocks")
            return []
        novel = await ctx.novel([draft.text_for_dedup() for draft in drafts])
        return [draft for draft, ok in zip(drafts, novel, strict=True) if ok]
