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

from pathlib import Path

from airloom.backends.base import Backend
from airloom.runtime.tools.fetch import GuardedFetcher, TextScraper
from airloom.runtime.tools.knowledge import KnowledgeModel
from airloom.runtime.tools.links import HyperlinkExtractor
from airloom.runtime.tools.registry import ToolRegistry
from airloom.runtime.tools.search import SearchEngine, SearchTool


def make_registry(
    engine: SearchEngine, backend: Backend, model: str, corpus: Path | None
) -> ToolRegistry:
    """The registry a plan runs on: ``engine`` for search, ``backend`` for QA, and pages
    read from ``corpus`` when their URLs are ``file://`` ones inside it (see the module
    docstring for an example)."""
    return ToolRegistry(
        {
            "search": SearchTool(engine),
            "links": HyperlinkExtractor(local_root=corpus),
            "scrape": TextScraper(GuardedFetcher(), local_root=corpus),
            "qa": KnowledgeModel(backend, model),
        }
    )


async def close_registry(registry: ToolRegistry) -> None:
    """Release what the registry's tools hold open (the scraper's HTTP client).

    Example:
        >>> import asyncio
        >>> asyncio.run(close_registry(ToolRegistry()))
    """
    scraper = registry.tools.get("scrape")
    if isinstance(scraper, TextScraper):
        await scraper.fetcher.aclose()
