"""Settings of the ``summarization`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_STYLES", "SummarizationConfig"]

DEFAULT_STYLES = [
    "news article",
    "blog post",
    "encyclopedia entry",
    "set of meeting minutes written as prose",
    "short story",
    "product review",
    "research abstract",
    "personal letter",
    "travel diary entry",
    "press release",
]


class SummarizationConfig(InstructorConfig):
    """Knobs of the summarization instructor."""

    styles: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STYLES), description="Kinds of source text."
    )
    source_words: int = Field(400, ge=40, le=5000, description="Approximate source length.")
    min_summary_words: int = Field(40, ge=5, description="Shortest summary target.")
    max_summary_words: int = Field(150, ge=5, description="Longest summary target.")
    length_tolerance: float = Field(
        0.2, gt=0.0, le=1.0, description="Accepted relative distance from the summary target."
    )

    @model_validator(mode="after")
    def _ordered(self) -> SummarizationConfig:
        if self.min_summary_words > self.max_summary_words:
            raise ValueError("min_summary_words must not exceed max_summary_words")
        if not self.styles:
            raise ValueError("styles needs at least one entry")
        return self
