"""Settings of the ``writing`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_STYLES", "WritingConfig"]

DEFAULT_STYLES = [
    "cheerful",
    "melancholic",
    "tragic",
    "humorous",
    "formal",
    "casual",
    "suspenseful",
    "whimsical",
    "nostalgic",
    "sarcastic",
    "inspirational",
    "dark",
    "optimistic",
    "poetic",
    "romantic",
]


class WritingConfig(InstructorConfig):
    """Knobs of the writing instructor."""

    styles: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STYLES),
        description="Styles some tasks must ask for (empty: no style requirements).",
    )
