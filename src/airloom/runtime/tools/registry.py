"""Map the tool names a plan uses to roles, and roles to tool implementations.

Plans name tools freely ("DuckDuckGo", "Google Search", "Text-Scraper", "LLM"…).
Names are normalised (casefold, letters and digits only) and looked up in an alias
table (a plain dict, overridable) that gives a *role*; the registry holds one tool
per role. A tool can also be added under its own name (e.g. a custom "Calculator").

Which roles a run has comes from :data:`TOOLS`: the four built-in roles in code, and
third-party tools from the ``airloom.tools`` entry-point group, each a factory
``(ToolSetup) -> Tool`` (a tool's optional ``aliases`` are further plan names)::

    [project.entry-points."airloom.tools"]
    calculator = "my_package.tools:make_calculator"

Example:
    >>> import asyncio
    >>> class Upper:
    ...     name = "Upper"
    ...     async def run(self, input, ctx):
    ...         return input.upper()
    >>> registry = ToolRegistry({"search": Upper()})
    >>> role, tool = registry.resolve("google search")
    >>> role, tool.name
    ('search', 'Upper')
    >>> registry.resolve("TextScraper") is None
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from airloom.errors import ConfigError
from airloom.plugins import Registry
from airloom.runtime.plan_ir import normalise_tool_name
from airloom.runtime.tools.base import Tool, tool_description

if TYPE_CHECKING:
    from airloom.backends.base import Backend
    from airloom.runtime.tools.search import SearchEngine

__all__ = [
    "CANONICAL_NAMES",
    "DEFAULT_ALIASES",
    "TOOLS",
    "ToolFactory",
    "ToolRegistry",
    "ToolSetup",
]


@dataclass(frozen=True, slots=True)
class ToolSetup:
    """What a tool factory may use to build its tool for one run."""

    engine: SearchEngine
    backend: Backend
    model: str
    corpus: Path | None = None
    params: Mapping[str, Any] | None = None


#: Builds one role's tool for a run.
ToolFactory = Callable[[ToolSetup], Tool]


def _accept_factory(role: str, value: Any) -> ToolFactory:
    if not callable(value):
        raise ConfigError(f"tool plug-in '{role}' is not a factory (ToolSetup) -> Tool")
    return cast(ToolFactory, value)


#: Tool factories by role: the built-ins below, third-party ones by entry point.
TOOLS: Registry[ToolFactory] = Registry(
    "tool",
    "airloom.tools",
    {
        "search": ("airloom.runtime.tools.standard:search_tool",),
        "scrape": ("airloom.runtime.tools.standard:scrape_tool",),
        "links": ("airloom.runtime.tools.standard:links_tool",),
        "qa": ("airloom.runtime.tools.standard:qa_tool",),
    },
    _accept_factory,
)

DEFAULT_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        [
            "duckduckgo",
            "duckduckgosearch",
            "ddg",
            "google",
            "googlesearch",
            "bing",
            "bingsearch",
            "search",
            "websearch",
            "searchengine",
            "searxng",
            "internetsearch",
        ],
        "search",
    ),
    **dict.fromkeys(
        [
            "textscraper",
            "scraper",
            "webscraper",
            "scrape",
            "pagescraper",
            "webpagescraper",
            "webreader",
            "pagereader",
            "fetch",
            "urlreader",
        ],
        "scrape",
    ),
    **dict.fromkeys(
        [
            "hyperlinkextractor",
            "linkextractor",
            "extractlinks",
            "linkfinder",
            "urlextractor",
            "links",
            "hyperlinks",
        ],
        "links",
    ),
    **dict.fromkeys(
        [
            "knowledgemodel",
            "llm",
            "qa",
            "qamodel",
            "languagemodel",
            "questionanswering",
            "questionanswerer",
            "answerer",
            "knowledgebase",
        ],
        "qa",
    ),
}
"""Normalised plan tool name -> role. Copy and extend it to accept more names."""

CANONICAL_NAMES: dict[str, str] = {
    "search": "DuckDuckGo",
    "scrape": "TextScraper",
    "links": "HyperlinkExtractor",
    "qa": "KnowledgeModel",
}
"""The names the model card's planning prompt offers, per role."""


class ToolRegistry:
    """Tools by role, plus an alias table from plan names to roles."""

    def __init__(
        self,
        tools: Mapping[str, Tool] | None = None,
        *,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.tools: dict[str, Tool] = dict(tools or {})
        source = DEFAULT_ALIASES if aliases is None else aliases
        self.aliases: dict[str, str] = {normalise_tool_name(k): v for k, v in source.items()}

    def add(self, tool: Tool, *, role: str | None = None, names: Iterable[str] = ()) -> None:
        """Register ``tool`` for ``role`` (default: its own name) and extra plan names.

        Example:
            >>> class Calc:
            ...     name = "Calculator"
            ...     async def run(self, input, ctx):
            ...         return "4"
            >>> r = ToolRegistry(); r.add(Calc(), names=["calc"])
            >>> r.resolve("CALC")[0]
            'calculator'
        """
        key = role or normalise_tool_name(tool.name)
        self.tools[key] = tool
        for name in (tool.name, *names):
            self.aliases[normalise_tool_name(name)] = key

    def resolve(self, plan_name: str) -> tuple[str, Tool] | None:
        """The (role, tool) a plan tool name stands for, or ``None`` when unknown."""
        key = normalise_tool_name(plan_name)
        role = self.aliases.get(key, key if key in self.tools else None)
        if role is None or role not in self.tools:
            return None
        return role, self.tools[role]

    def known_names(self) -> list[str]:
        """Every normalised plan name that resolves to a registered tool.

        Example:
            >>> ToolRegistry().known_names()
            []
        """
        return sorted(name for name, role in self.aliases.items() if role in self.tools)

    def offered(self) -> list[tuple[str, Tool]]:
        """One display name per registered role (the card's names where they exist).

        Example:
            >>> class S:
            ...     name = "S"
            ...     async def run(self, input, ctx):
            ...         return ""
            >>> [name for name, _ in ToolRegistry({"qa": S(), "search": S()}).offered()]
            ['DuckDuckGo', 'KnowledgeModel']
        """
        order = ["search", "scrape", "links", "qa"]
        roles = sorted(self.tools, key=lambda r: (order.index(r) if r in order else 99, r))
        return [
            (CANONICAL_NAMES.get(role, self.tools[role].name), self.tools[role]) for role in roles
        ]

    def described(self) -> list[tuple[str, str]]:
        """The offered tools as (display name, description) pairs, as a planning prompt lists
        them.

        Example:
            >>> class S:
            ...     name = "S"
            ...     description = "Look things up."
            ...     async def run(self, input, ctx):
            ...         return ""
            >>> ToolRegistry({"search": S()}).described()
            [('DuckDuckGo', 'Look things up.')]
        """
        return [(name, tool_description(tool, name)) for name, tool in self.offered()]
