"""Settings of the ``multiple_choice`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["MultipleChoiceConfig"]


class MultipleChoiceConfig(InstructorConfig):
    """Knobs of the multiple_choice instructor."""

    contextual_ratio: float = Field(
        0.2, ge=0.0, le=1.0, description="Share of questions that open with a context paragraph."
    )
    five_option_ratio: float = Field(
        0.2, ge=0.0, le=1.0, description="Share of questions with five options (A-E), not four."
    )
    combination_ratio: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Share of five-option questions whose E is 'all/none of the above' or similar.",
    )
