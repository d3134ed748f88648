"""Settings of the ``awareness`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from airloom.config import InstructorConfig
from airloom.instructors.settings.character import INTERVIEWER_NAMES

__all__ = ["AwarenessConfig"]


class AwarenessConfig(InstructorConfig):
    """Knobs of the awareness instructor."""

    location_ratio: float = Field(
        0.2, ge=0.0, le=1.0, description="Share of rounds about the user's location."
    )
    temporal_ratio: float = Field(
        0.2, ge=0.0, le=1.0, description="Share of rounds about the current date/time."
    )
    interviewer_names: list[str] = Field(
        default_factory=lambda: list(INTERVIEWER_NAMES),
        min_length=1,
        description="Names of the person asking a character.",
    )
    location_prompt_path: str | None = Field(
        None, description="Location template (default: built-in); prompt_path is the character one."
    )
    temporal_prompt_path: str | None = Field(
        None, description="Temporal template (default: built-in awareness_temporal.txt)."
    )

    @model_validator(mode="after")
    def _ratios(self) -> AwarenessConfig:
        if self.location_ratio + self.temporal_ratio > 1.0:
            raise ValueError("location_ratio + temporal_ratio must not exceed 1")
        return self
