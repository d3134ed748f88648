"""Settings of the ``contextual`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_FORMATS", "DEFAULT_STYLES", "ContextualConfig"]

DEFAULT_STYLES = [
    "news article",
    "blog post",
    "slack conversation",
    "text messages",
    "fictional short story",
    "video transcript",
    "song",
    "poem",
    "scientific study",
    "medical report",
    "reddit post with replies",
    "email",
    "tweet",
    "jira ticket",
    "github merge request",
    "gitlab issue",
    "how-to article",
]


DEFAULT_FORMATS = [
    "JSON",
    "YAML",
    "CSV",
    "markdown",
    "markdown table",
    "bullet list",
    "numbered list",
    "python dict",
    "php associative array",
    "JSONL",
    "javascript object",
    "XML",
]


class ContextualConfig(InstructorConfig):
    """Knobs of the contextual instructor."""

    context_styles: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STYLES), description="Writing style per input block."
    )
    formatting_options: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FORMATS),
        description="Output formats tasks may ask for.",
    )
    topic_avoidance: str | None = Field(
        None, description="Avoidance sentence for this instructor (default: the global one)."
    )
    check_citations: bool = Field(
        True, description="Reject answers citing metadata that was not given."
    )
    mode: Literal["write", "compose"] = Field(
        "write",
        description=(
            "write: the teacher writes blocks, metadata and tasks in the closed-context layout "
            "(prompt_path / response_prompt_path override contextual.txt / "
            "contextual_response.txt). compose: the teacher writes only a passage and a question "
            "about one detail of it, and airloom lays out the blocks, metadata and cited answer "
            "(for small teachers; the prompts are contextual_passage.txt and "
            "contextual_question.txt)."
        ),
    )
    unanswerable_ratio: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description=(
            "compose: share of items whose answering sentence is removed from the passage, "
            "answered by saying the context does not tell."
        ),
    )
    source_request_ratio: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="compose: share of questions that ask for the source (answered with "
        "Reference(s):).",
    )
