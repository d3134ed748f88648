"""Settings of the ``rp`` category: its section under ``instructors:``.

Imported by config validation without the category's implementation.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from airloom.config import InstructorConfig

__all__ = ["DEFAULT_MOVES", "DEFAULT_OPENERS", "RpConfig"]

DEFAULT_MOVES = [
    "become fascinated by something that was just said",
    "dig deeper into the current subject",
    "ask a follow-up question",
    "disagree with something that was said, in character",
    "steer the conversation towards {topic}",
    "relate the current subject to {topic}",
    "share a short anecdote from your own life",
    "make a joke that fits your character",
    "ask for clarification about something that was said",
    "offer a new perspective on the subject",
    "use a vivid metaphor",
    "express confusion about something",
    "ask one of the other characters about themselves",
]


DEFAULT_OPENERS = [
    "Let's break the ice.",
    "Start the chat.",
    "Begin the conversation.",
    "Go ahead and start.",
    "Someone say something.",
    "Kick things off.",
    "Open the scene.",
    "Let's get this conversation going.",
    "Who speaks first?",
    "Set things in motion.",
]


class RpConfig(InstructorConfig):
    """Knobs of the rp instructor."""

    turn_count: int = Field(
        12, ge=2, description="Training messages per session (user and assistant turns)."
    )
    min_turn_count: int = Field(
        4, ge=2, description="Shortest session kept when a session ends early."
    )
    participant_weights: dict[int, float] = Field(
        default_factory=lambda: {2: 0.85, 3: 0.12, 4: 0.03},
        description="Probability of each number of characters in a session.",
    )
    action_delimiters: list[str] = Field(
        default_factory=lambda: ["*", "~", ""],
        description="Emote delimiters, one drawn per session ('' = no emotes).",
    )
    max_rerolls: int = Field(
        2, ge=0, description="Extra attempts for one message before the session ends."
    )
    moves: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MOVES),
        description="Conversational moves shown in reminders ({topic} is filled in).",
    )
    openers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_OPENERS),
        description="First user turn when an assistant-side character opens the chat.",
    )
    setting_prompt_path: str | None = Field(
        None, description="Setting template (default: built-in rp_setting.txt)."
    )

    @model_validator(mode="after")
    def _lengths(self) -> RpConfig:
        if self.min_turn_count > self.turn_count:
            raise ValueError("min_turn_count must not exceed turn_count")
        return self

    @field_validator("participant_weights")
    @classmethod
    def _weights(cls, value: dict[int, float]) -> dict[int, float]:
        if not value or any(n < 2 for n in value) or any(w < 0 for w in value.values()):
            raise ValueError("participant_weights needs counts >= 2 with weights >= 0")
        if sum(value.values()) <= 0:
            raise ValueError("participant_weights must not all be zero")
        return value

    @field_validator("moves")
    @classmethod
    def _moves(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("moves must not be empty")
        for move in value:
            try:
                move.format(topic="x")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"move {move!r} may only use the {{topic}} placeholder ({exc})"
                ) from None
        return value

    @field_validator("action_delimiters", "openers")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must not be empty")
        return value
