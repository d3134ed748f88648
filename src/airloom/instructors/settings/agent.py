"""Settings of the ``agent`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from typing import Literal

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
    mode: Literal["write", "compose"] = Field(
        "write",
        description=(
            "write: the teacher invents each toolbox (agent.txt). compose: airloom draws the "
            "toolbox from a function catalogue and the values of the call, the teacher writes "
            "only the user's request stating them (agent_request.txt) and answers the prompt; "
            "the answer must use exactly those values (for small teachers)."
        ),
    )
    functions_path: str | None = Field(
        None,
        description=(
            "compose: a YAML list of function definitions whose parameters carry 'examples' "
            "(default: the packaged catalogue)."
        ),
    )

    @model_validator(mode="after")
    def _ordered(self) -> AgentConfig:
        if self.min_functions > self.max_functions:
            raise ValueError("min_functions must not exceed max_functions")
        return self
