"""Settings of the ``introspection`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from airloom.config import InstructorConfig
from airloom.instructors.settings.character import INTERVIEWER_NAMES

__all__ = ["KINDS", "IntrospectionConfig"]

KINDS = ("character", "setting", "earlier")


class IntrospectionConfig(InstructorConfig):
    """Knobs of the introspection instructor."""

    exchanges: int = Field(3, ge=1, description="Exchanges of chat before the question.")
    min_exchanges: int = Field(2, ge=1, description="Fewest exchanges a usable chat has.")
    kinds: list[str] = Field(
        default_factory=lambda: list(KINDS),
        min_length=1,
        description="Question kinds drawn from: character, setting, earlier.",
    )
    interviewer_names: list[str] = Field(
        default_factory=lambda: list(INTERVIEWER_NAMES),
        min_length=1,
        description="Names of the person chatting with the character.",
    )
    question_prompt_path: str | None = Field(
        None, description="Question template (default: built-in introspection_question.txt)."
    )

    @model_validator(mode="after")
    def _check(self) -> IntrospectionConfig:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kinds {unknown}; use {list(KINDS)}")
        if self.min_exchanges > self.exchanges:
            raise ValueError("min_exchanges must not exceed exchanges")
        return self
