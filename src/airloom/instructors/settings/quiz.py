"""Settings of the ``quiz`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from airloom.config import InstructorConfig

__all__ = ["QuizConfig"]


class QuizConfig(InstructorConfig):
    """Knobs of the quiz instructor."""

    min_questions: int = Field(3, ge=2, le=10, description="Fewest questions in a quiz.")
    max_questions: int = Field(6, ge=2, le=10, description="Most questions in a quiz.")

    @model_validator(mode="after")
    def _ordered(self) -> QuizConfig:
        if self.min_questions > self.max_questions:
            raise ValueError("min_questions must not exceed max_questions")
        return self
