"""Settings of the ``gtkm`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from airloom.config import InstructorConfig
from airloom.instructors.settings.character import INTERVIEWER_NAMES

__all__ = ["GtkmConfig"]


class GtkmConfig(InstructorConfig):
    """Knobs of the gtkm instructor."""

    question_count: int = Field(20, ge=1, description="Questions asked per session.")
    max_prompt_words: int = Field(
        2500, ge=50, description="Longest transcript kept, in words (later pairs dropped)."
    )
    min_questions: int = Field(3, ge=1, description="Fewest answered questions in a session.")
    interviewer_names: list[str] = Field(
        default_factory=lambda: list(INTERVIEWER_NAMES),
        min_length=1,
        description="Names of the person asking the questions.",
    )

    @model_validator(mode="after")
    def _counts(self) -> GtkmConfig:
        if self.min_questions > self.question_count:
            raise ValueError("min_questions must not exceed question_count")
        return self
