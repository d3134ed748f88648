"""``quiz``: a request for an N-question quiz and the quiz with its answer key.

One round = one call writing ``batch_size`` REQUEST/QUIZ pairs, each request on a topic
and for a number of questions drawn by code (``min_questions``–``max_questions``). A quiz
must have exactly the requested number of numbered questions and an ``Answer key:``
with one numbered answer per question (``check_quiz``). The labels are REQUEST/QUIZ,
not QUESTION/ANSWER, so "Question 1:" lines inside a quiz cannot split the pairs.

Example:
    >>> size_lines(random.Random(0), 2, QuizConfig()).count("REQUEST")
    2
"""

from __future__ import annotations

import random
from typing import Any

from airloom.instructors.base import Draft, RoundContext
from airloom.instructors.checked import enforce
from airloom.instructors.engines import InlineQAInstructor
from airloom.instructors.settings.quiz import QuizConfig

__all__ = ["QuizInstructor", "size_lines"]


def size_lines(rng: random.Random, count: int, config: QuizConfig) -> str:
    """One line per request saying how many questions its quiz has.

    Example:
        >>> size_lines(random.Random(1), 1, QuizConfig(min_questions=4, max_questions=4))
        '- REQUEST 1 asks for a quiz of exactly 4 questions.'
    """
    return "\n".join(
        f"- REQUEST {i} asks for a quiz of exactly "
        f"{rng.randint(config.min_questions, config.max_questions)} questions."
        for i in range(1, count + 1)
    )


class QuizInstructor(InlineQAInstructor):
    """Quizzes with answer keys, question counts checked."""

    name = "quiz"
    config_model = QuizConfig
    uses_topics = True
    prompt_file = "quiz.txt"
    start_key = "REQUEST"
    end_key = "QUIZ"

    def template_values(self, ctx: RoundContext) -> dict[str, Any]:
        config = self.config
        assert isinstance(config, QuizConfig)
        return {"size_lines": size_lines(ctx.rng, self.settings.batch_size, config)}

    def check_pair(self, question: str, answer: str) -> Draft:
        return enforce(self.name, Draft(instruction=question, response=answer))
