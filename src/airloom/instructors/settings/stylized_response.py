"""Settings of the ``stylized_response`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_SOURCES", "StylizedResponseConfig"]

DEFAULT_SOURCES = ["experience", "general", "joke", "riddle", "trivia"]


class StylizedResponseConfig(InstructorConfig):
    """Knobs of the stylized_response instructor."""

    categories: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SOURCES),
        min_length=1,
        description="Categories whose records are re-answered in character.",
    )
