"""Settings of the ``character`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["INTERVIEWER_NAMES", "CharacterConfig"]

#: First names for the person chatting with a character (gtkm, awareness, introspection).
INTERVIEWER_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
]


class CharacterConfig(InstructorConfig):
    """Knobs of the character instructor."""

    seed_path: str | None = Field(
        None,
        description="Folder of example character descriptions (*.txt); default: built-in.",
    )
    max_name_words: int = Field(6, ge=1, description="Longest accepted name, in words.")
    min_description_words: int = Field(
        12, ge=1, description="Shortest accepted description, in words."
    )
