"""Settings of the ``mathjson`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_KINDS", "MathJSONConfig"]

DEFAULT_KINDS = [
    "percentages and discounts",
    "rates, speed and work done together",
    "areas and volumes of circles, spheres and cylinders",
    "ratios and proportions",
    "compound interest",
    "counting and combinations",
    "unit conversions",
    "averages and totals",
    "linear equations from a story",
    "powers, roots and growth",
]


class MathJSONConfig(InstructorConfig):
    """Knobs of the mathjson instructor."""

    tolerance: float = Field(
        0.01, ge=0.0, le=0.5, description="Relative tolerance between MathJSON value and answer."
    )
    problem_kinds: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KINDS),
        description="Kinds of word problem, one drawn per problem.",
    )
