"""Settings of the ``agent`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from airloom.config import InstructorConfig

__all__ = ["AgentConfig"]


class AgentConfig(InstructorConfig):
    """Knobs of the agent instructor."""

    min_functions: int = Field(3, ge=2, le=20, description="Fewest functions in a listing.")
    max_functions: int = Field(9, ge=2, le=20, description="Most functions in a listing.")
    yaml_ratio: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of prompts asking for a YAML (not JSON) answer."
    )

    @model_validator(mode="after")
    def _ordered(self) -> AgentConfig:
        if self.min_functions > self.max_functions:
            raise ValueError("min_functions must not exceed max_functions")
        return self
