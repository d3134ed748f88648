"""A fake round context for the instructor tests.

:class:`FakeContext` implements :class:`airloom.instructors.base.RoundContext` without an
engine: the teacher is a plain function of the recorded :class:`Call`, topics come from a
fixed list, near-duplicates are a given set of texts and stored records of other
categories are a given dict. Every call and every reject is recorded, so tests can assert
on the prompts an instructor sent and on why it dropped items.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from airloom.config import InstructorConfig
from airloom.formats.records import Record
from airloom.instructors.base import (
    Draft,
    Instructor,
    InstructorSettings,
    PromptTemplate,
    Rejected,
    Truncated,
    Turn,
    map_rejecting,
)

T = TypeVar("T")
R = TypeVar("R")

TOPICS: tuple[str, ...] = ("volcanoes", "chess", "tea", "rivers", "kites", "owls")
"""The default topics, handed out in this order (and round again) whatever the seed."""


@dataclass(frozen=True)
class Call:
    """One recorded teacher call; ``prompt`` and ``system`` are ``""`` when not given."""

    prompt: str
    key: str
    system: str = ""
    history: tuple[Turn, ...] = ()
    filtered: object = True
    params: dict[str, Any] | None = None


Reply = Callable[[Call], str]
"""The fake teacher: the text it answers to one call."""


class Cut(str):
    """A fake reply that stopped at max_tokens (the context raises :class:`Truncated`)."""


class FakeContext:
    """A RoundContext whose teacher is a function of the call.

    ``topics`` are handed out in order, round again when a round wants more. ``duplicates``
    are the texts :meth:`novel` calls near-duplicates, ``records`` what
    :meth:`source_records` serves by category. A blank reply is rejected as ``empty`` and
    a :class:`Cut` one raises :class:`Truncated`, as the engine does.
    """

    def __init__(
        self,
        settings: InstructorSettings,
        reply: Reply,
        *,
        seed: int = 0,
        round_index: int = 0,
        topics: Sequence[str] = TOPICS,
        duplicates: set[str] | None = None,
        records: dict[str, list[Record]] | None = None,
    ) -> None:
        self.settings = settings
        self.rng = random.Random(seed)
        self.round_index = round_index
        self._reply = reply
        self._topics = list(topics)
        self._duplicates = duplicates or set()
        self._records = records or {}
        self.calls: list[Call] = []
        self.rejects: list[tuple[str, str]] = []

    async def complete(
        self,
        prompt: str | None,
        *,
        key: str,
        system: str | None = None,
        history: Sequence[Turn] = (),
        params: dict[str, Any] | None = None,
        filtered: object = True,
        template: PromptTemplate | None = None,
    ) -> str:
        call = Call(
            prompt=prompt or "",
            key=key,
            system=system or "",
            history=tuple(history),
            filtered=filtered,
            params=params,
        )
        self.calls.append(call)
        text = self._reply(call)
        if not text.strip():
            raise Rejected("empty", "the teacher returned no text")
        if isinstance(text, Cut):
            raise Truncated(str(text))
        return text

    async def novel(self, texts: Sequence[str]) -> list[bool]:
        return [text not in self._duplicates for text in texts]

    def topics(self, n: int) -> list[str]:
        return [self._topics[i % len(self._topics)] for i in range(n)]

    def reject(self, reason: str, detail: str = "") -> None:
        self.rejects.append((reason, detail))

    async def source_records(self, categories: Sequence[str]) -> list[Record]:
        return [record for category in categories for record in self._records.get(category, [])]

    async def map(self, fn: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R]:
        return await map_rejecting(fn, items, self.reject)

    def reasons(self) -> list[str]:
        """The reasons of the rejects so far, in order."""
        return [reason for reason, _ in self.rejects]


def settings_for(
    name: str, section: InstructorConfig, *, batch_size: int = 3, base_dir: Path | None = None
) -> InstructorSettings:
    """Settings of one instructor with recognisable language, Flesch and avoidance texts."""
    return InstructorSettings(
        name=name,
        section=section,
        count=10,
        batch_size=batch_size,
        language="English",
        flesch="FLESCH-HINT",
        topic_avoidance="GLOBAL-AVOIDANCE",
        base_dir=base_dir,
    )


def run(instructor: Instructor, ctx: FakeContext) -> list[Draft]:
    """One round of ``instructor`` on ``ctx``."""
    return asyncio.run(instructor.run_round(ctx))
