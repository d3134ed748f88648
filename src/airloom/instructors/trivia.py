"""``trivia``: short-answer trivia, terse with the trivia system prompt, chatty without.

One round = one call writing ``batch_size`` ``QUESTION:``/``ANSWER:`` pairs. Each
novel pair becomes a record with the trivia ``system`` prompt; an answer that breaks
a constraint its question states ("…starts with 'sm'", "…ends with 'a'", "…contains
'ss'") is rejected (``failed_check``, see :mod:`airloom.checks.trivia`). With
probability ``plain_ratio`` the question is also re-asked without the system prompt,
with a request for a little context, and answered by a second call: the model learns
that the system prompt is what makes answers terse.

Counting: the terse row and its plain re-answer share one ``unit`` (the question), so
a target of N means N questions, reached exactly; the original counted both rows.
The plain row is a variant of a checked question, so it is stored with
``near_dedup=False``. The original dropped plain prompts left over at the end of a
run; here each round answers its own, so nothing is dropped.

Example:
    >>> TriviaConfig().plain_ratio
    0.5
    >>> question_unit("What is 2+2?") == question_unit("what is  2+2? ")
    True
"""

from __future__ import annotations

import hashlib

from airloom.checks import trivia as _checks  # noqa: F401  (registers the check)
from airloom.instructors.base import Draft, RoundContext
from airloom.instructors.inline_pairs import CheckedInlineQAInstructor
from airloom.instructors.settings.trivia import TriviaConfig

__all__ = ["TriviaInstructor", "question_unit"]


def question_unit(question: str) -> str:
    """The counting unit shared by a question's rows (stable across runs)."""
    normal = " ".join(question.lower().split())
    return "trivia:" + hashlib.sha256(normal.encode("utf-8")).hexdigest()[:20]


class TriviaInstructor(CheckedInlineQAInstructor):
    """Trivia pairs plus optional plain re-answers (see the module docstring)."""

    name = "trivia"
    config_model = TriviaConfig
    prompt_file = "trivia.txt"

    def _config(self) -> TriviaConfig:
        config = self.config
        assert isinstance(config, TriviaConfig)
        return config

    def checks_enabled(self) -> bool:
        return self._config().check_answers

    def make_pair(self, question: str, answer: str) -> Draft:
        return Draft(
            instruction=question,
            response=answer,
            system=self._config().system_prompt,
            unit=question_unit(question),
            meta={"variant": "system"},
        )

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self._config()
        terse = await super().run_round(ctx)
        replain = [draft for draft in terse if ctx.rng.random() < config.plain_ratio]

        async def plain(draft: Draft) -> Draft:
            instruction = f"{draft.instruction} {config.plain_suffix}".strip()
            response = await ctx.complete(instruction, key="plain")
            return Draft(
                instruction=instruction,
                response=response.strip(),
                unit=draft.unit,
                near_dedup=False,
                meta={"variant": "plain"},
            )

        answered = {draft.unit: draft for draft in await ctx.map(plain, replain)}
        out: list[Draft] = []
        for draft in terse:
            out.append(draft)
            if draft.unit in answered:
                out.append(answered[draft.unit])
        return out
