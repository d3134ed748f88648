"""Settings of the ``inline_actions`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from airloom.config import InstructorConfig

__all__ = ["InlineActionsConfig"]


class InlineActionsConfig(InstructorConfig):
    """Knobs of the inline_actions instructor."""

    exchanges: int = Field(3, ge=1, description="User messages per session.")
    min_functions: int = Field(3, ge=1, description="Fewest functions a scene must define.")
    max_functions: int = Field(8, ge=1, description="Most functions a scene is asked for.")
    min_objects: int = Field(2, ge=0, description="Fewest objects a scene must list.")
    min_actions: int = Field(1, ge=1, description="Fewest valid calls in a kept session.")
    function_responses: bool = Field(
        True, description="Follow a reply that acted with the results turn and a reaction."
    )
    max_rerolls: int = Field(2, ge=0, description="Extra attempts for one reply.")

    @model_validator(mode="after")
    def _range(self) -> InlineActionsConfig:
        if self.max_functions < self.min_functions:
            raise ValueError("max_functions must be >= min_functions")
        return self
