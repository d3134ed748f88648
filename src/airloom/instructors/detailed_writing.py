"""``detailed_writing``: long, detailed writing with a stated word-count target.

One round = ``batch_size`` items. Each item: a task written after one of the seed
examples (packaged, or ``*.txt`` files in ``seed_path``) and a topic; then the answer in
``parts`` calls (one conversation, each part about ``target / parts`` words), joined,
optionally rewritten as one piece (``rewrite``). The target is ``word_count`` give or
take ``word_count_jitter``; an answer more than ``length_tolerance`` away from it is
rejected (``wrong_length``). The instruction ends with ``Your response should be
approximately N words.`` where N is the answer's real length rounded (to 50, or 10 for
short answers), so the stated length is true — and code-checked (``check_word_target``).

Example:
    >>> stated_words(2317), stated_words(143)
    (2300, 140)
"""

from __future__ import annotations

import random
from pathlib import Path

from airloom.checks.lengths import count_words, length_verdict, round_target, word_target_line
from airloom.config import configured_path
from airloom.errors import ConfigError
from airloom.instructors.base import (
    Draft,
    Instructor,
    Rejected,
    RoundContext,
    Turn,
    load_template,
)
from airloom.instructors.checked import enforce
from airloom.instructors.settings.detailed_writing import DetailedWritingConfig
from airloom.instructors.verified import item_rngs, strip_preamble
from airloom.reasons import Reason

__all__ = ["SEED_SEPARATOR", "DetailedWritingInstructor", "load_seeds", "stated_words"]

SEED_SEPARATOR = "====="


def stated_words(words: int) -> int:
    """The length stated in the instruction: rounded to 50 (to 10 below 500 words).

    Example:
        >>> stated_words(480), stated_words(520)
        (480, 500)
    """
    return round_target(words, 50 if words >= 500 else 10)


def load_seeds(seed_path: str | None, base_dir: Path | None = None) -> list[str]:
    """Example tasks: the packaged ones, or every ``*.txt`` of a folder (sorted).

    Example:
        >>> len(load_seeds(None)) >= 3
        True
    """
    folder = configured_path(seed_path, base_dir, "detailed_writing_seeds")
    if folder is None:
        text = load_template("detailed_writing_seeds.txt", None).text
        seeds = [part.strip() for part in text.split(f"\n{SEED_SEPARATOR}\n")]
    else:
        if not folder.is_dir():
            raise ConfigError(f"seed_path {seed_path} is not a folder", hint="fix seed_path")
        seeds = [file.read_text(encoding="utf-8").strip() for file in sorted(folder.glob("*.txt"))]
    seeds = [seed for seed in seeds if seed]
    if not seeds:
        raise ConfigError(f"no example tasks found in {seed_path}", hint="add *.txt files")
    return seeds


class DetailedWritingInstructor(Instructor):
    """Long writing in parts, with a true and checked word-count statement."""

    name = "detailed_writing"
    config_model = DetailedWritingConfig
    uses_topics = True

    def _config(self) -> DetailedWritingConfig:
        config = self.config
        assert isinstance(config, DetailedWritingConfig)
        return config

    def _target(self, rng: random.Random) -> int:
        config = self._config()
        jitter = rng.uniform(-config.word_count_jitter, config.word_count_jitter)
        return stated_words(max(10, int(config.word_count * (1 + jitter))))

    async def _task(self, ctx: RoundContext, index: int, example: str, topic: str) -> str:
        template = self.settings.template("detailed_writing.txt")
        prompt = template.render(
            example=example,
            topic=topic or "a subject of your choice",
            language=self.settings.language,
            flesch=self.settings.flesch,
            topic_avoidance=self.settings.topic_avoidance,
        )
        text = await ctx.complete(prompt, key=f"task:{index}", template=template)
        task = strip_preamble(text)
        if not task:
            raise Rejected(Reason.UNPARSEABLE, "empty task")
        return task

    async def _write(self, ctx: RoundContext, index: int, task: str, target: int) -> str:
        config = self._config()
        part_words = max(10, target // config.parts)
        first = self.settings.template("detailed_writing_response.txt", response=True).render(
            instruction=task,
            total_words=target,
            parts=config.parts,
            part_words=part_words,
            language=self.settings.language,
            flesch=self.settings.flesch,
        )
        following = load_template("detailed_writing_next.txt", None)
        history: list[Turn] = []
        prompt = first
        parts: list[str] = []
        for number in range(1, config.parts + 1):
            if number > 1:
                ending = (
                    "This is the final part: bring the whole piece to a satisfying end."
                    if number == config.parts
                    else "Do not conclude yet, and end where the text can be continued."
                )
                prompt = following.render(
                    part_number=number, parts=config.parts, part_words=part_words, ending=ending
                )
            text = strip_preamble(
                await ctx.complete(
                    prompt, key=f"part:{index}:{number}", history=history, filtered=False
                )
            )
            parts.append(text)
            history += [Turn("user", prompt), Turn("assistant", text)]
        combined = "\n\n".join(parts)
        if config.rewrite:
            rewrite = load_template("detailed_writing_rewrite.txt", None).render(
                instruction=task, text=combined, words=target
            )
            combined = strip_preamble(
                await ctx.complete(rewrite, key=f"rewrite:{index}", filtered=False)
            )
        return combined

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self._config()
        count = self.settings.batch_size
        seeds = load_seeds(config.seed_path, self.settings.base_dir)
        topics = ctx.topics(count)
        rngs = item_rngs(ctx.rng, count)
        plans = [
            (i, rngs[i].choice(seeds), topics[i % len(topics)] if topics else "", rngs[i])
            for i in range(count)
        ]
        Plan = tuple[int, str, str, random.Random]

        async def write_task(plan: Plan) -> tuple[Plan, str]:
            return plan, await self._task(ctx, plan[0], plan[1], plan[2])

        kept = await ctx.map(write_task, plans)
        novel = await ctx.novel([task for _, task in kept])
        fresh = [item for item, ok in zip(kept, novel, strict=True) if ok]

        async def answer(item: tuple[Plan, str]) -> Draft:
            (index, _, topic, rng), task = item
            target = self._target(rng)
            text = await self._write(ctx, index, task, target)
            verdict = length_verdict(text, target, config.length_tolerance)
            if not verdict.ok:
                raise Rejected(Reason.WRONG_LENGTH, verdict.reason)
            draft = Draft(
                instruction=f"{task}\n\n{word_target_line(stated_words(count_words(text)))}",
                response=text,
                topic=topic or None,
                dedup_text=task,
                meta={"length_tolerance": config.length_tolerance, "target_words": target},
            )
            return enforce(self.name, draft)

        return await ctx.map(answer, fresh)
