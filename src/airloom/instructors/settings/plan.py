"""Settings of the ``plan`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from airloom.config import InstructorConfig

__all__ = ["PlanConfig"]


class PlanConfig(InstructorConfig):
    """Knobs of the plan instructor."""

    min_tools: int = Field(4, ge=2, le=12, description="Fewest tools a task must offer.")
    max_tools: int = Field(7, ge=2, le=12, description="Most tools a task may offer.")
    show_example: bool = Field(
        True, description="Show the teacher a worked plan (stored only with record_example)."
    )
    mode: Literal["write", "compose"] = Field(
        "write",
        description=(
            "write: the teacher invents each task's tools and question (plan.txt). compose: "
            "the task offers the runtime's own tools (search, scrape, links, QA, as "
            "`airloom.runtime.rewoo` runs them) and the teacher writes only a question about a "
            "topic (plan_question.txt), for teachers too small to write task lists."
        ),
    )
    record_example: bool = Field(
        False,
        description=(
            "Keep the worked example in the stored instruction, as the runtime's planning "
            "prompt has it by default (the cards' records have none)."
        ),
    )

    @model_validator(mode="after")
    def _ordered(self) -> PlanConfig:
        if self.min_tools > self.max_tools:
            raise ValueError("min_tools must not exceed max_tools")
        return self
