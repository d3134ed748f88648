"""Settings of the ``trivia`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_PLAIN_SUFFIX", "DEFAULT_SYSTEM", "TriviaConfig"]

DEFAULT_SYSTEM = "You are a world-class trivia assistant: give accurate, succinct answers."


DEFAULT_PLAIN_SUFFIX = "Give a little context with your answer, without restating the question."


class TriviaConfig(InstructorConfig):
    """Knobs of the trivia instructor."""

    system_prompt: str = Field(DEFAULT_SYSTEM, description="System prompt of the terse rows.")
    plain_ratio: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of questions re-answered without the system prompt."
    )
    plain_suffix: str = Field(
        DEFAULT_PLAIN_SUFFIX,
        description="Appended to a question re-asked without the system prompt.",
    )
    check_answers: bool = Field(
        True, description="Reject answers breaking a starts/ends/contains clue of their question."
    )
