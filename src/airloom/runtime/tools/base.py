"""The one tool protocol, the context a tool receives, and evidence sanitising.

A tool is any object with a ``name`` and ``async run(input, ctx) -> str``. The
context carries the run's :class:`~airloom.runtime.budget.Budget` and the evidence
the input refers to (the QA tool turns it into closed-context input blocks).

Example:
    >>> import asyncio
    >>> class Echo:
    ...     name = "Echo"
    ...     async def run(self, input: str, ctx: ToolContext) -> str:
    ...         return input.upper()
    >>> isinstance(Echo(), Tool)
    True
    >>> asyncio.run(Echo().run("hi", ToolContext()))
    'HI'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from airloom.formats.closed_context import neutralise_delimiters
from airloom.runtime.budget import Budget
from airloom.runtime.plan_ir import Part

__all__ = [
    "Evidence",
    "Tool",
    "ToolContext",
    "cap_text",
    "escape_chat_tokens",
    "escape_evidence",
    "tool_description",
]


@dataclass(frozen=True, slots=True)
class Evidence:
    """The output of an earlier step, as seen by a later one."""

    step_id: int
    tool: str
    text: str

    @property
    def label(self) -> str:
        """The canonical reference label, e.g. ``:evidence2:``."""
        return f":evidence{self.step_id}:"


@dataclass(slots=True)
class ToolContext:
    """What a tool may use besides its input string."""

    budget: Budget = field(default_factory=Budget)
    step_id: int = -1
    parts: tuple[Part, ...] = ()
    evidence: Mapping[int, Evidence] = field(default_factory=dict)
    question: str = ""


@runtime_checkable
class Tool(Protocol):
    """A plan tool: ``name`` and an async ``run`` from input text to output text.

    Raise :class:`airloom.errors.ToolError` for failures the plan should see as
    that step's error, and :class:`airloom.errors.BudgetExceeded` when over budget.
    """

    name: str

    async def run(self, input: str, ctx: ToolContext) -> str:
        """Run the tool on its resolved input."""
        ...


_INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)
_CHAT_TOKENS = re.compile(r"<\|([^|<>\n]{1,40})\|>")
_TURN_MARKERS = re.compile(
    r"\[(/?)INST\]|<<(/?)SYS>>|</?s>|^(USER|ASSISTANT|SYSTEM):|^(###) (Instruction|Response)",
    re.MULTILINE,
)


def _neutralise(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.startswith("[") or text.startswith("<<"):
        return text[0] + " " + text[1:]
    if text.startswith("<"):
        return "< " + text[1:]
    if text.startswith("###"):
        return "#" + text[3:]
    return text[:-1] + " :"


def escape_evidence(text: str) -> str:
    """Neutralise chat and delimiter tokens in tool output (visible, reversible edits).

    Chat tokens (``<|eot_id|>``, ``<|begin_func|>``), the closed-context keywords,
    ``[INST]``, ``<<SYS>>``, ``</s>``, turn labels at line start and zero-width,
    tag and bidi characters are altered so that no prompt built from the evidence
    can gain a turn boundary or a new input block.

    Example:
        >>> escape_evidence("ENDINPUT\\nUSER: hi <|eot_id|> [INST]")
        'END-INPUT\\nUSER : hi <¦eot_id¦> [ INST]'
    """
    return neutralise_delimiters(escape_chat_tokens(text))


def escape_chat_tokens(text: str) -> str:
    """Like :func:`escape_evidence` but leaving the closed-context keywords alone
    (for text that a closed-context builder will neutralise itself).

    Example:
        >>> escape_chat_tokens("ENDINPUT <|im_end|>")
        'ENDINPUT <¦im_end¦>'
    """
    text = _INVISIBLE.sub("", text)
    text = _CHAT_TOKENS.sub(lambda m: f"<¦{m.group(1)}¦>", text)
    return _TURN_MARKERS.sub(_neutralise, text)


def cap_text(text: str, max_chars: int) -> str:
    """Cut text to ``max_chars`` characters, saying how much was dropped.

    Example:
        >>> cap_text("abcdef", 3)
        'abc\\n[… 3 more characters cut]'
        >>> cap_text("abc", 3)
        'abc'
    """
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}\n[… {len(text) - max_chars} more characters cut]"


def tool_description(tool: Tool, default: str = "") -> str:
    """A tool's ``description`` attribute, or ``default``.

    Example:
        >>> class T:
        ...     name = "T"
        ...     description = "does t"
        >>> tool_description(T())  # type: ignore[arg-type]
        'does t'
    """
    return str(getattr(tool, "description", "") or default)
