"""Settings of the ``counterfactual_contextual`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["CounterfactualConfig"]


class CounterfactualConfig(InstructorConfig):
    """Knobs of the counterfactual_contextual instructor."""

    cite_ratio: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of questions that also ask for the source."
    )
    check_citations: bool = Field(
        True, description="Reject answers citing metadata that was not given."
    )
