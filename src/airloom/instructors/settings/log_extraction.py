"""Settings of the ``log_extraction`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from airloom.checks.logs import LogFormat
from airloom.config import InstructorConfig

__all__ = ["FORMATS", "LogExtractionConfig"]

FORMATS: tuple[LogFormat, ...] = ("apache", "sshd")


class LogExtractionConfig(InstructorConfig):
    """Knobs of the log_extraction instructor."""

    min_lines: int = Field(8, ge=3, le=200, description="Fewest lines in a log.")
    max_lines: int = Field(20, ge=3, le=200, description="Most lines in a log.")
    formats: list[LogFormat] = Field(
        default_factory=lambda: list(FORMATS), description="Log formats to draw from."
    )
    similarity_threshold: float | None = Field(
        1.0,
        ge=-1.0,
        le=1.0,
        description="Dedup cosine; logs are synthetic and alike by design, so only exact "
        "duplicates are rejected.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> LogExtractionConfig:
        if self.min_lines > self.max_lines:
            raise ValueError("min_lines must not exceed max_lines")
        if not self.formats:
            raise ValueError("formats needs at least one entry")
        return self
