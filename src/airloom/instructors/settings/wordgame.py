"""Settings of the ``wordgame`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["WordgameConfig"]


class WordgameConfig(InstructorConfig):
    """Knobs of the wordgame instructor."""

    check_answers: bool = Field(
        True, description="Reject answers that break a checkable rule of their prompt."
    )
