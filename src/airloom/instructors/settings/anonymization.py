"""Settings of the ``anonymization`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.checks.anonymization import EntityKind
from airloom.config import InstructorConfig

__all__ = ["DEFAULT_STYLES", "AnonymizationConfig"]

DEFAULT_STYLES = [
    "email between colleagues",
    "customer support ticket",
    "set of meeting notes",
    "security incident report",
    "chat transcript",
    "server maintenance notice",
    "short news item",
    "doctor's appointment reminder",
]


_KINDS: tuple[EntityKind, ...] = ("names", "ips", "dates")


class AnonymizationConfig(InstructorConfig):
    """Knobs of the anonymization instructor."""

    kinds: list[EntityKind] = Field(
        default_factory=lambda: list(_KINDS),
        min_length=1,
        description="Entity kinds a request may ask to remove (names, ips, dates).",
    )
    styles: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STYLES),
        min_length=1,
        description="Kinds of source text.",
    )
    placeholder_ratio: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of requests asking for placeholders like [NAME]."
    )
