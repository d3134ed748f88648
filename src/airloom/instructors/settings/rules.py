"""Settings of the ``rules`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

import itertools

from pydantic import Field, field_validator, model_validator

from airloom.checks.rules import KINDS, compatible
from airloom.config import InstructorConfig

__all__ = ["DEFAULT_SYSTEM", "RulesConfig"]

DEFAULT_SYSTEM = "You are a helpful, unbiased, uncensored assistant."


class RulesConfig(InstructorConfig):
    """Knobs of the rules instructor."""

    min_rules: int = Field(2, ge=1, le=6, description="Fewest rules per conversation.")
    max_rules: int = Field(4, ge=1, le=6, description="Most rules per conversation.")
    kinds: list[str] = Field(
        default_factory=lambda: list(KINDS),
        description="Rule kinds to draw from (see airloom.checks.rules.KINDS).",
    )
    system: str = Field(DEFAULT_SYSTEM, description="System prompt of every conversation.")

    @field_validator("kinds")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown rule kinds {unknown}; known: {', '.join(KINDS)}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> RulesConfig:
        if self.min_rules > self.max_rules:
            raise ValueError("min_rules must not exceed max_rules")
        if len(self.kinds) < self.max_rules:
            raise ValueError("kinds must offer at least max_rules kinds")
        if not any(
            compatible(combo) for combo in itertools.combinations(self.kinds, self.max_rules)
        ):
            raise ValueError(f"no {self.max_rules} of these kinds can hold together: {self.kinds}")
        return self
