"""``summarization``: a source text and "Summarize the input in around N words.".

One round = ``batch_size`` items, each two calls: the teacher writes a source text (a
style from ``styles``, about ``source_words`` words, on a topic), then summarizes it.
The instruction is the closed-context layout of the cards::

    BEGININPUT
    BEGINCONTEXT
    ENDCONTEXT
    <source text>
    ENDINPUT
    BEGININSTRUCTION
    Summarize the input in around N words.
    ENDINSTRUCTION

N is drawn between ``min_summary_words`` and ``max_summary_words`` (rounded to 10, at
most half the source); a summary more than ``length_tolerance`` away from N is
rejected (``check_summary_length``), as is a source shorter than twice N.

Example:
    >>> summary_target(random.Random(0), SummarizationConfig(), 400) % 10
    0
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from airloom.checks.lengths import count_words, length_bounds, summary_request
from airloom.formats.closed_context import InputBlock, build_closed_context
from airloom.instructors.base import Draft, Instructor, Rejected, RoundContext
from airloom.instructors.checked import enforce
from airloom.instructors.settings.summarization import SummarizationConfig
from airloom.instructors.verified import item_rngs, strip_preamble
from airloom.reasons import Reason

__all__ = ["Source", "SummarizationInstructor", "summary_target"]


def summary_target(rng: random.Random, config: SummarizationConfig, source_words: int) -> int:
    """The summary length to ask for: drawn in range, rounded to 10, at most half the source.

    Example:
        >>> summary_target(random.Random(1), SummarizationConfig(), 60)
        30
    """
    wanted = rng.randint(config.min_summary_words, config.max_summary_words)
    wanted = min(wanted, source_words // 2)
    return max(10, round(wanted / 10) * 10)


@dataclass(frozen=True)
class Source:
    """A generated source text and what its summary needs."""

    index: int
    text: str
    rng: random.Random
    topic: str


class SummarizationInstructor(Instructor):
    """Summaries of generated texts, length-checked."""

    name = "summarization"
    config_model = SummarizationConfig
    uses_topics = True

    def _config(self) -> SummarizationConfig:
        config = self.config
        assert isinstance(config, SummarizationConfig)
        return config

    async def _source(
        self, ctx: RoundContext, index: int, rng: random.Random, topic: str
    ) -> Source:
        config = self._config()
        template = self.settings.template("summarization.txt")
        prompt = template.render(
            style=rng.choice(config.styles),
            source_words=config.source_words,
            topic=topic or "a subject of your choice",
            language=self.settings.language,
            topic_avoidance=self.settings.topic_avoidance,
        )
        text = strip_preamble(await ctx.complete(prompt, key=f"source:{index}", template=template))
        if count_words(text) < 2 * config.min_summary_words:
            raise Rejected(Reason.SOURCE_TOO_SHORT, f"{count_words(text)} words")
        return Source(index, text, rng, topic)

    async def _summary(self, ctx: RoundContext, item: Source) -> Draft:
        config = self._config()
        index, source, rng, topic = item.index, item.text, item.rng, item.topic
        words = summary_target(rng, config, count_words(source))
        instruction = build_closed_context([InputBlock({}, source)], summary_request(words))
        low, high = length_bounds(words, config.length_tolerance)
        prompt = self.settings.template("summarization_response.txt", response=True).render(
            instruction=instruction, words=words, low=low, high=high
        )
        response = strip_preamble(await ctx.complete(prompt, key=f"summary:{index}"))
        draft = Draft(
            instruction=instruction,
            response=response,
            topic=topic or None,
            dedup_text=source,
            meta={"length_tolerance": config.length_tolerance, "target_words": words},
        )
        return enforce(self.name, draft)

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        count = self.settings.batch_size
        topics = ctx.topics(count)
        rngs = item_rngs(ctx.rng, count)
        plans = [(i, rngs[i], topics[i % len(topics)] if topics else "") for i in range(count)]

        async def source(plan: tuple[int, random.Random, str]) -> Source:
            return await self._source(ctx, *plan)

        sources = await ctx.map(source, plans)
        novel = await ctx.novel([item.text for item in sources])
        fresh = [item for item, ok in zip(sources, novel, strict=True) if ok]
        return await ctx.map(lambda item: self._summary(ctx, item), fresh)
