"""The four card roles (search, scrape, links, QA) wired to real tools.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from airloom.backends.scripted import ScriptedBackend
    >>> from airloom.runtime.tools.search import LocalCorpus
    >>> folder = Path(tempfile.mkdtemp())
    >>> registry = make_registry(LocalCorpus(folder), ScriptedBackend([]), "m", folder)
    >>> [name for name, _ in registry.offered()]
    ['DuckDuckGo', 'TextScraper', 'HyperlinkExtractor', 'KnowledgeModel']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airloom.backends.base import Backend
from airloom.runtime.tools.base import Tool
from airloom.runtime.tools.fetch import GuardedFetcher, TextScraper
from airloom.runtime.tools.knowledge import KnowledgeModel
from airloom.runtime.tools.links import HyperlinkExtractor
from airloom.runtime.tools.registry import CANONICAL_NAMES, TOOLS, ToolRegistry, ToolSetup
from airloom.runtime.tools.search import SearchEngine, SearchTool

__all__ = [
    "close_registry",
    "knowledge_model",
    "links_tool",
    "make_registry",
    "qa_tool",
    "scrape_tool",
    "search_tool",
    "standard_tools",
]


def standard_tools() -> list[tuple[str, str]]:
    """The four card roles as a planning prompt offers them: ``(card name, description)``,
    the descriptions the real tools give (so a plan learnt on them runs here as written).

    Example:
        >>> [name for name, _ in standard_tools()]
        ['DuckDuckGo', 'TextScraper', 'HyperlinkExtractor', 'KnowledgeModel']
    """
    described = {
        "search": SearchTool.description,
        "scrape": TextScraper.description,
        "links": HyperlinkExtractor.description,
        "qa": KnowledgeModel.description,
    }
    return [(CANONICAL_NAMES[role], text) for role, text in described.items()]


def knowledge_model(
    backend: Backend, model: str, params: Mapping[str, Any] | None = None
) -> KnowledgeModel:
    """The QA tool, sampling as ``params`` say (temperature 0 and 400 tokens unless set).

    Example:
        >>> from airloom.backends.scripted import ScriptedBackend
        >>> tool = knowledge_model(ScriptedBackend([]), "m", {"temperature": 0.2, "top_p": 0.9})
        >>> tool.temperature, tool.max_tokens, tool.params
        (0.2, 400, {'top_p': 0.9})
    """
    sampling = dict(params or {})
    return KnowledgeModel(
        backend,
        model,
        temperature=float(sampling.pop("temperature", 0.0)),
        max_tokens=int(sampling.pop("max_tokens", 400)),
        params=sampling,
    )


def search_tool(setup: ToolSetup) -> Tool:
    """The ``search`` role: the run's search engine."""
    return SearchTool(setup.engine)


def scrape_tool(setup: ToolSetup) -> Tool:
    """The ``scrape`` role: guarded fetching, ``file://`` pages from the corpus."""
    return TextScraper(GuardedFetcher(), local_root=setup.corpus)


def links_tool(setup: ToolSetup) -> Tool:
    """The ``links`` role: hyperlinks of a page (``file://`` ones from the corpus)."""
    return HyperlinkExtractor(local_root=setup.corpus)


def qa_tool(setup: ToolSetup) -> Tool:
    """The ``qa`` role: the teacher answering from evidence."""
    return knowledge_model(setup.backend, setup.model, setup.params)


def make_registry(
    engine: SearchEngine,
    backend: Backend,
    model: str,
    corpus: Path | None,
    params: Mapping[str, Any] | None = None,
) -> ToolRegistry:
    """The registry a plan runs on: every role of :data:`TOOLS` built for this run —
    ``engine`` for search, ``backend`` for QA (sampling as ``params`` say), pages read
    from ``corpus`` when their URLs are ``file://`` ones inside it, and the tools of
    installed plug-ins (see the module docstring for an example)."""
    setup = ToolSetup(engine, backend, model, corpus, params)
    registry = ToolRegistry()
    for role in TOOLS.names():
        tool = TOOLS.load(role)(setup)
        registry.add(tool, role=role, names=getattr(tool, "aliases", ()))
    return registry


async def close_registry(registry: ToolRegistry) -> None:
    """Release what the registry's tools hold open (the scraper's HTTP client).

    Example:
        >>> import asyncio
        >>> asyncio.run(close_registry(ToolRegistry()))
    """
    scraper = registry.tools.get("scrape")
    if isinstance(scraper, TextScraper):
        await scraper.fetcher.aclose()
