"""Settings of the ``detailed_writing`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["DetailedWritingConfig"]


class DetailedWritingConfig(InstructorConfig):
    """Knobs of the detailed_writing instructor."""

    word_count: int = Field(4000, ge=50, le=20000, description="Target length in words.")
    word_count_jitter: float = Field(
        0.25, ge=0.0, le=0.9, description="Targets vary by up to this share around word_count."
    )
    parts: int = Field(3, ge=1, le=8, description="Calls the answer is written in.")
    rewrite: bool = Field(False, description="Rewrite the joined parts as one piece.")
    length_tolerance: float = Field(
        0.25, gt=0.0, le=1.0, description="Accepted relative distance from the target length."
    )
    seed_path: str | None = Field(
        None, description="Folder of example tasks (*.txt); default: the built-in examples."
    )
