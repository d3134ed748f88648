"""The intermediate representation of a reWOO plan: what the parser produces.

Everything here is plain data (frozen dataclasses). Ids are labels, not indexes:
``:evidence0:`` and ``#E1`` both name a step by its number.

Example:
    >>> Ref(3).label
    ':evidence3:'
    >>> Step(id=0, tool="DuckDuckGo", raw_input="x", line=1).tool_key
    'duckduckgo'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AnswerKind",
    "AnswerSpec",
    "ParsedPlan",
    "Part",
    "Ref",
    "RefSyntax",
    "Step",
    "normalise_tool_name",
]

RefSyntax = Literal["colon", "hash"]
AnswerKind = Literal["ref", "template", "literal", "missing"]


def normalise_tool_name(name: str) -> str:
    """Casefold a tool name and drop everything that is not a letter or a digit.

    Example:
        >>> normalise_tool_name("Text-Scraper")
        'textscraper'
        >>> normalise_tool_name(" Google Search ")
        'googlesearch'
    """
    return "".join(ch for ch in name.casefold() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to the evidence of step ``id``; ``raw`` is how the plan spelled it."""

    id: int
    syntax: RefSyntax = "colon"
    raw: str = ""

    @property
    def label(self) -> str:
        """The canonical spelling, e.g. ``:evidence3:``."""
        return f":evidence{self.id}:"


Part = str | Ref
"""A compiled input is a tuple of literal text and references."""


@dataclass(frozen=True, slots=True)
class Step:
    """One ``:evidenceN: = Tool[input]`` definition, as written.

    ``flags`` records every tolerance the parser applied (``bracketed_call``,
    ``unbalanced_brackets``, ``concatenation``, ``quoted``, ``paren_call``,
    ``truncated`` …), so callers can see how far the text was from the canonical form.
    """

    id: int
    tool: str
    raw_input: str
    line: int
    syntax: RefSyntax = "colon"
    plan_text: str = ""
    flags: tuple[str, ...] = ()

    @property
    def tool_key(self) -> str:
        """The normalised tool name used for lookups."""
        return normalise_tool_name(self.tool)

    @property
    def label(self) -> str:
        """The canonical label of this step, e.g. ``:evidence0:``."""
        return f":evidence{self.id}:"

    @property
    def truncated(self) -> bool:
        """True when the definition was cut off (no closing bracket at all)."""
        return "truncated" in self.flags


@dataclass(frozen=True, slots=True)
class AnswerSpec:
    """What the plan's ``Answer:`` line asks for.

    ``kind`` is ``ref`` (one evidence value), ``template`` (text with refs),
    ``literal`` (no refs: ungrounded) or ``missing`` (no answer line).
    """

    kind: AnswerKind
    parts: tuple[Part, ...] = ()
    raw: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class ParsedPlan:
    """The parser's result: steps in source order, the answer and diagnostics.

    ``problems`` are defects that make the plan unusable as written (the validator
    reports them together with its own); ``warnings`` are tolerated deviations;
    ``ignored`` keeps lines that were neither plan, step nor answer (prose).
    """

    steps: tuple[Step, ...]
    answer: AnswerSpec
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    ignored: tuple[str, ...] = field(default=())
