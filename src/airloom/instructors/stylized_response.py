"""``stylized_response``: records of other categories re-answered in a character's voice.

Sources are the stored single-turn records of the configured ``categories`` (default
experience, general, joke, riddle, trivia), read with ``ctx.source_records``; the
instructor depends on them and on ``character`` (:meth:`dependencies` adds the
configured categories), so they are complete before it starts.

The pool is the sources in acceptance order; round ``i`` takes the slice
``[i·batch_size, (i+1)·batch_size)`` and gives each source a character drawn from
``ctx.rng`` — deterministic, so a replayed round asks the same questions, and no
source is used twice within one store. A round past the end of the pool raises
:class:`SourceExhausted`: the instructor ends cleanly instead of spinning (the
original's bug). Sources added to the store later are appended to the pool.

A reply that is exactly ``SKIP`` (the teacher saying the character's voice would not
change the answer) is dropped as ``skipped``; ``SKIP`` inside a real answer is not a
skip, but a reply that opens or ends with a ``SKIP`` line and also says something
else is rejected (``malformed_skip``).

Example:
    >>> is_skip(" **SKIP.** "), is_skip("I would never skip breakfast.")
    (True, False)
"""

from __future__ import annotations

import re

from airloom.config import InstructorConfig
from airloom.formats.records import Record
from airloom.instructors.base import (
    Draft,
    Instructor,
    Rejected,
    RoundContext,
    round_slice,
)
from airloom.instructors.characters import (
    IN_CHARACTER_RULES,
    Card,
    cut_at_markers,
    load_cards,
    straight_quotes,
    strip_speaker,
)
from airloom.instructors.settings.stylized_response import StylizedResponseConfig
from airloom.reasons import Reason

__all__ = [
    "StylizedResponseInstructor",
    "clean_reply",
    "has_skip_line",
    "is_skip",
    "source_pool",
    "usable_source",
]


def is_skip(reply: str) -> bool:
    """Whether a whole reply is the word SKIP (quotes, emphasis, a period allowed).

    Example:
        >>> is_skip('"skip"'), is_skip("SKIP\\nBecause it is a list.")
        (True, False)
    """
    return re.sub(r"[\s\"'`*_.!]", "", reply).upper() == "SKIP"


def has_skip_line(reply: str) -> bool:
    """Whether the first or last line of a reply is SKIP (a half-skipped answer).

    Example:
        >>> has_skip_line("SKIP\\nBecause it is a list."), has_skip_line("No skipping.")
        (True, False)
    """
    lines = [line for line in reply.strip().splitlines() if line.strip()]
    return bool(lines) and (is_skip(lines[0]) or is_skip(lines[-1]))


def usable_source(record: Record) -> bool:
    """A single-turn record with an instruction and a response.

    Example:
        >>> from airloom.formats.records import make_record
        >>> usable_source(make_record("general", "Hi?", "Hello."))
        True
    """
    return bool(
        record.instruction.strip()
        and record.response.strip()
        and not record.conversation
        and not record.skip_prompt_formatting
    )


def source_pool(records: list[Record]) -> list[Record]:
    """Usable sources in acceptance order (ties broken by id): new sources are
    appended, so the slices of earlier rounds never move.

    Example:
        >>> from airloom.formats.records import Provenance, Record
        >>> pool = source_pool([
        ...     Record("b", "general", "x", "y", provenance=Provenance(created_at=2.0)),
        ...     Record("a", "general", "z", "w", provenance=Provenance(created_at=1.0))])
        >>> [r.id for r in pool]
        ['a', 'b']
    """
    usable = [r for r in records if usable_source(r)]
    return sorted(usable, key=lambda r: (r.provenance.created_at, r.id))


def clean_reply(reply: str, name: str) -> str:
    """Cut a trailing disclaimer and a leading ``Name:`` from an in-character answer.

    Example:
        >>> clean_reply("Ann: Bread.\\nREMINDER: fiction.", "Ann")
        'Bread.'
    """
    return strip_speaker(cut_at_markers(straight_quotes(reply), ("REMINDER:",)), name)


class StylizedResponseInstructor(Instructor):
    """Answers of other categories in a character's voice (see the module docstring)."""

    name = "stylized_response"
    config_model = StylizedResponseConfig
    depends_on = ("character",)

    @classmethod
    def dependencies(cls, section: InstructorConfig) -> tuple[str, ...]:
        sources = section.categories if isinstance(section, StylizedResponseConfig) else []
        return (*cls.depends_on, *sources)

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self.config
        assert isinstance(config, StylizedResponseConfig)
        cards = await load_cards(ctx)
        pool = source_pool(await ctx.source_records(config.categories))
        what = f"records of {', '.join(config.categories)}"
        share = round_slice(pool, ctx.round_index, self.settings.batch_size, what)
        items = [(source, ctx.rng.choice(cards)) for source in share]
        template = self.settings.template("stylized_response.txt")

        async def restyle(item: tuple[Record, Card]) -> Draft:
            source, card = item
            system = template.render(
                persona=card.persona(),
                name=card.name,
                rules=IN_CHARACTER_RULES,
                language=self.settings.language,
                flesch=self.settings.flesch,
            )
            reply = await ctx.complete(
                source.instruction,
                key=f"restyle:{source.id}",
                system=system,
                template=template,
                filtered=False,
            )
            if is_skip(reply):
                raise Rejected(Reason.SKIPPED, source.instruction[:80])
            if has_skip_line(reply):
                raise Rejected(Reason.MALFORMED_SKIP, reply[:80])
            response = clean_reply(reply, card.name)
            if not response:
                raise Rejected(Reason.EMPTY, source.instruction[:80])
            return Draft(
                instruction=source.instruction,
                response=response,
                system=card.persona(),
                dedup_text=response,
                meta={
                    "source_id": source.id,
                    "source_category": source.category,
                    "card_id": card.id,
                    "character": card.name,
                },
            )

        return await ctx.map(restyle, items)
