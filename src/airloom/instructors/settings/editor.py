"""Settings of the ``editor`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_ISSUES", "DEFAULT_REQUEST", "EditorConfig"]

DEFAULT_ISSUES = [
    "several misspelled words",
    "grammatical errors",
    "childish, overly simple wording",
    "errors typical of a writer with dyslexia",
    "long, rambling run-on sentences",
    "commonly confused words swapped (their/there, affect/effect, then/than)",
]


DEFAULT_REQUEST = (
    "Rewrite the following text to improve and correct it: fix spelling, grammar, "
    "word choice and sentence structure."
)


class EditorConfig(InstructorConfig):
    """Knobs of the editor instructor."""

    issues: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ISSUES),
        description="Kinds of error written into the source texts.",
    )
    min_issues: int = Field(1, ge=1, description="Fewest kinds of error per text.")
    max_issues: int = Field(3, ge=1, description="Most kinds of error per text.")
    request: str = Field(DEFAULT_REQUEST, description="The fixed request opening each instruction.")

    @model_validator(mode="after")
    def _check(self) -> EditorConfig:
        if not self.issues:
            raise ValueError("issues needs at least one kind of error")
        if self.min_issues > self.max_issues:
            raise ValueError("min_issues must not exceed max_issues")
        return self
