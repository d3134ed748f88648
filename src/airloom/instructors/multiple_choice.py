"""``multiple_choice``: questions with lettered options and a checked answer key.

One round = one call writing ``batch_size`` QUESTION/ANSWER pairs. Each question's
shape is drawn by code: four options (A–D) or five (A–E, ``five_option_ratio``), the
fifth sometimes a combination such as "all of the above" (``combination_ratio``), a
context paragraph before the question (``contextual_ratio``), and the letter the
correct option must have — always one of the question's own letters (the original
could demand "E" for a four-option question). Every pair is checked by code
(``check_answer_key``): options lettered without gaps, the answer's letter among
them, the answer's text that option's text.

Example:
    >>> lines = question_lines(random.Random(0), 3, MultipleChoiceConfig())
    >>> lines.count("QUESTION")
    3
"""

from __future__ import annotations

import random
from typing import Any

from airloom.instructors.base import Draft, RoundContext
from airloom.instructors.checked import enforce
from airloom.instructors.engines import InlineQAInstructor
from airloom.instructors.settings.multiple_choice import MultipleChoiceConfig

__all__ = ["LETTERS", "MultipleChoiceInstructor", "question_line", "question_lines"]

LETTERS = "ABCDE"


def question_line(rng: random.Random, index: int, config: MultipleChoiceConfig) -> str:
    """The requirement line of one question (its options, answer letter, context).

    Example:
        >>> question_line(random.Random(1), 2, MultipleChoiceConfig(five_option_ratio=0.0,
        ...               contextual_ratio=0.0))
        '- QUESTION 2 has 4 options (A to D); its correct answer must be option A.'
    """
    count = 5 if rng.random() < config.five_option_ratio else 4
    parts = [f"- QUESTION {index} has {count} options (A to {LETTERS[count - 1]})"]
    if count == 5 and rng.random() < config.combination_ratio:
        parts.append(
            "option E combines others, such as 'all of the above', 'none of the above' or 'A and C'"
        )
    parts.append(f"its correct answer must be option {rng.choice(LETTERS[:count])}")
    if rng.random() < config.contextual_ratio:
        parts.append(
            "it opens with a paragraph of at least four sentences on its topic, followed by a "
            "question about that paragraph whose answer is not obvious"
        )
    return "; ".join(parts) + "."


def question_lines(rng: random.Random, count: int, config: MultipleChoiceConfig) -> str:
    """The requirement lines of a round's questions.

    Example:
        >>> question_lines(random.Random(2), 1, MultipleChoiceConfig()).startswith("- QUESTION 1")
        True
    """
    return "\n".join(question_line(rng, i, config) for i in range(1, count + 1))


class MultipleChoiceInstructor(InlineQAInstructor):
    """Multiple-choice questions whose answer key is verified."""

    name = "multiple_choice"
    config_model = MultipleChoiceConfig
    uses_topics = True
    prompt_file = "multiple_choice.txt"

    def template_values(self, ctx: RoundContext) -> dict[str, Any]:
        config = self.config
        assert isinstance(config, MultipleChoiceConfig)
        return {"question_lines": question_lines(ctx.rng, self.settings.batch_size, config)}

    def check_pair(self, question: str, answer: str) -> Draft:
        return enforce(self.name, Draft(instruction=question, response=answer))
