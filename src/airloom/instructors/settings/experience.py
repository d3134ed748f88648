"""Settings of the ``experience`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_THEMES", "ExperienceConfig"]

DEFAULT_THEMES = [
    "a city built inside a waterfall",
    "a desert of singing sand",
    "a library that grows like a forest",
    "an island drifting above the clouds",
    "a cave lit by crystals that hum",
    "a garden at the bottom of the sea",
    "a train that travels through the seasons",
    "a market held on the back of a giant turtle",
    "a frozen palace that melts at dusk",
    "a lighthouse at the edge of the stars",
    "a valley where it is always sunrise",
    "a labyrinth of mirrors and soft light",
]


class ExperienceConfig(InstructorConfig):
    """Knobs of the experience instructor."""

    word_count: int = Field(800, ge=50, description="Words the experience is asked to have.")
    min_word_ratio: float = Field(
        0.5, ge=0.0, le=1.0, description="Reject experiences shorter than this share of word_count."
    )
    themes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_THEMES),
        description="Loose inspirations, one drawn per prompt (empty: none).",
    )
