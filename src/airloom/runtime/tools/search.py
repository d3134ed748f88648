"""Web search for plans: one :class:`SearchEngine` interface, three engines, one tool.

* :class:`SearxngEngine`: a SearXNG instance's JSON API (``/search?format=json``);
  the instance must have ``json`` in ``search.formats`` of its settings.
* :class:`DdgsEngine`: DuckDuckGo and others through the maintained ``ddgs``
  package (synchronous, so it runs in a worker thread).
* :class:`LocalCorpus`: offline search over a folder of ``.txt``, ``.md`` and
  ``.html`` files with BM25 ranking; results point at ``file://`` URLs, or at
  ``base_url`` + relative path when one is given.

:class:`SearchTool` formats results as numbered text that always includes the
URLs, because the link extractor downstream reads them from text.

Example:
    >>> results = [SearchResult("Cats", "https://c.example/", "All about cats.")]
    >>> print(format_results(results))
    1. Cats
       https://c.example/
       All about cats.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from airloom.errors import MissingDependencyError, ToolError
from airloom.runtime.tools.base import ToolContext

__all__ = [
    "DdgsEngine",
    "LocalCorpus",
    "SearchEngine",
    "SearchResult",
    "SearchTool",
    "SearxngEngine",
    "format_results",
    "tokenize",
]


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One hit: title, URL and a short snippet."""

    title: str
    url: str
    snippet: str = ""


@runtime_checkable
class SearchEngine(Protocol):
    """Anything that turns a query into ranked results."""

    name: str

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        """At most ``limit`` results, best first; raise :class:`ToolError` on failure."""
        ...


def format_results(results: list[SearchResult]) -> str:
    """Numbered plain-text results, each with its URL on its own line.

    Example:
        >>> format_results([])
        ''
    """
    blocks = []
    for number, hit in enumerate(results, 1):
        lines = [f"{number}. {hit.title.strip() or hit.url}", f"   {hit.url}"]
        if hit.snippet.strip():
            lines.append(f"   {' '.join(hit.snippet.split())}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


class SearxngEngine:
    """Client for a SearXNG instance's JSON endpoint (an operator-chosen, trusted URL)."""

    name = "searxng"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 15.0,
        client: httpx.AsyncClient | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.params = dict(params or {})
        self._client = client or httpx.AsyncClient(timeout=timeout, trust_env=False)

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        """Query ``{base_url}/search?q=…&format=json``.

        Example:
            >>> import asyncio
            >>> engine = SearxngEngine("http://127.0.0.1:9")
            >>> try:
            ...     asyncio.run(engine.search("x", 3))
            ... except ToolError as exc:
            ...     exc.message.startswith("cannot reach SearXNG")
            True
        """
        params = {"q": query, "format": "json", **self.params}
        try:
            response = await self._client.get(f"{self.base_url}/search", params=params)
        except httpx.HTTPError as exc:
            raise ToolError(f"cannot reach SearXNG at {self.base_url}: {exc!r}") from exc
        if response.status_code == 403:
            raise ToolError(
                f"SearXNG at {self.base_url} refused the JSON format (HTTP 403)",
                hint="add 'json' to search.formats in its settings.yml",
            )
        if response.status_code >= 300:
            raise ToolError(f"SearXNG at {self.base_url} answered HTTP {response.status_code}")
        try:
            rows = response.json().get("results") or []
        except (ValueError, AttributeError) as exc:
            raise ToolError(f"SearXNG at {self.base_url} sent something that is not JSON") from exc
        return _results(rows, "url", "content", limit)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def _results(rows: Any, url_key: str, snippet_key: str, limit: int) -> list[SearchResult]:
    hits: list[SearchResult] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or not str(row.get(url_key) or "").startswith("http"):
            continue
        hits.append(
            SearchResult(
                str(row.get("title") or ""), str(row[url_key]), str(row.get(snippet_key) or "")
            )
        )
        if len(hits) >= limit:
            break
    return hits


class DdgsEngine:
    """DuckDuckGo (and the other backends of the ``ddgs`` package)."""

    name = "ddgs"

    def __init__(self, *, backend: str = "auto", region: str = "wt-wt", timeout: int = 10) -> None:
        self.backend = backend
        self.region = region
        self.timeout = timeout

    def _search_sync(self, query: str, limit: int) -> list[SearchResult]:
        try:
            from ddgs import DDGS
        except ImportError as exc:
            raise MissingDependencyError(
                "DuckDuckGo search needs the 'ddgs' package", hint="pip install 'airloom[web]'"
            ) from exc
        try:
            rows = DDGS(timeout=self.timeout).text(
                query, region=self.region, max_results=limit, backend=self.backend
            )
        except Exception as exc:  # ddgs raises its own exception types for network trouble
            raise ToolError(f"DuckDuckGo search failed: {exc}") from exc
        return _results(rows, "href", "body", limit)

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        """Run the synchronous ``ddgs`` search in a worker thread."""
        return await asyncio.to_thread(self._search_sync, query, limit)


_WORD = re.compile(r"\w+", re.UNICODE)
_CORPUS_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens.

    Example:
        >>> tokenize("Nobel Prize, 2020!")
        ['nobel', 'prize', '2020']
    """
    return [word.casefold() for word in _WORD.findall(text)]


@dataclass(frozen=True, slots=True)
class _Document:
    url: str
    title: str
    text: str
    counts: Counter[str]
    length: int


class LocalCorpus:
    """BM25 search over a folder of text, markdown and HTML files (offline)."""

    name = "local"

    def __init__(
        self,
        folder: Path,
        *,
        base_url: str | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        max_file_bytes: int = 2_000_000,
    ) -> None:
        self.folder = Path(folder)
        self.base_url = base_url
        self.k1, self.b = k1, b
        self.max_file_bytes = max_file_bytes
        self._docs: list[_Document] | None = None
        self._df: Counter[str] = Counter()

    def url_for(self, path: Path) -> str:
        """The URL a result for ``path`` carries.

        Example:
            >>> corpus = LocalCorpus(Path("/c"), base_url="http://127.0.0.1:8000/")
            >>> corpus.url_for(Path("/c/a b.md"))
            'http://127.0.0.1:8000/a%20b.md'
        """
        if self.base_url:
            relative = path.relative_to(self.folder).as_posix()
            return self.base_url.rstrip("/") + "/" + quote(relative)
        return path.resolve().as_uri()

    def _load(self) -> list[_Document]:
        from airloom.runtime.tools.extract import html_to_text

        if not self.folder.is_dir():
            raise ToolError(f"corpus folder {self.folder} does not exist", hint="check --corpus")
        docs = []
        for path in sorted(self.folder.rglob("*")):
            if path.suffix.lower() not in _CORPUS_SUFFIXES or not path.is_file():
                continue
            raw = path.read_bytes()[: self.max_file_bytes]
            html = path.suffix.lower() in (".html", ".htm")
            text = html_to_text(raw) if html else raw.decode("utf-8-sig", "replace")
            title = _title(raw.decode("utf-8", "replace") if html else text, path)
            tokens = tokenize(f"{title}\n{text}")
            docs.append(_Document(self.url_for(path), title, text, Counter(tokens), len(tokens)))
        for doc in docs:
            self._df.update(doc.counts.keys())
        return docs

    def rank(self, query: str, limit: int) -> list[SearchResult]:
        """BM25-ranked results (documents with no query term are left out).

        Example:
            >>> import tempfile
            >>> folder = Path(tempfile.mkdtemp())
            >>> _ = (folder / "cats.txt").write_text("Cats purr. Cats sleep a lot.")
            >>> _ = (folder / "dogs.txt").write_text("Dogs bark.")
            >>> [r.title for r in LocalCorpus(folder).rank("why do cats purr", 5)]
            ['cats']
        """
        if self._docs is None:
            self._docs = self._load()
        docs = self._docs
        if not docs:
            return []
        average = sum(d.length for d in docs) / len(docs) or 1.0
        terms = list(dict.fromkeys(tokenize(query)))
        scored = []
        for doc in docs:
            score = sum(self._term_score(term, doc, len(docs), average) for term in terms)
            if score > 0:
                scored.append((score, doc))
        scored.sort(key=lambda item: -item[0])
        return [SearchResult(d.title, d.url, _snippet(d.text, terms)) for _, d in scored[:limit]]

    def _term_score(self, term: str, doc: _Document, total: int, average: float) -> float:
        frequency = doc.counts.get(term, 0)
        if not frequency:
            return 0.0
        df = self._df[term]
        idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
        norm = self.k1 * (1 - self.b + self.b * doc.length / average)
        return idf * frequency * (self.k1 + 1) / (frequency + norm)

    async def search(self, query: str, limit: int) -> list[SearchResult]:
        """Rank in a worker thread (the first call reads the folder)."""
        return await asyncio.to_thread(self.rank, query, limit)


def _title(text: str, path: Path) -> str:
    match = re.search(r"<title[^>]*>([^<]{1,200})</title>|^#\s+(.{1,200})$", text, re.I | re.M)
    if match:
        return (match.group(1) or match.group(2)).strip()
    return path.stem


def _snippet(text: str, terms: list[str], width: int = 30) -> str:
    """The window of ``width`` words with the most query terms (one linear pass)."""
    words = text.split()
    wanted = set(terms)
    marks = [1 if wanted.intersection(tokenize(word)) else 0 for word in words]
    best, current = 0, sum(marks[:width])
    best_hits = current
    for start in range(1, max(1, len(words) - width + 1)):
        current += marks[start + width - 1] - marks[start - 1]
        if current > best_hits:
            best, best_hits = start, current
    return " ".join(words[best : best + width])


class SearchTool:
    """The search tool of a plan: query in, numbered results with URLs out."""

    name = "DuckDuckGo"
    description = (
        "Tool that enables the user to search for information using a web search engine. "
        "This tool is helpful in locating a suitable list of sites that may contain the "
        "answer to the user's query. It does not directly answer the question but finds a "
        "list of sites that might have the answer."
    )

    def __init__(self, engine: SearchEngine, *, limit: int = 5) -> None:
        self.engine = engine
        self.limit = limit

    async def run(self, input: str, ctx: ToolContext) -> str:
        """Search; a :class:`ToolError` when nothing is found.

        Example:
            >>> import asyncio, tempfile
            >>> folder = Path(tempfile.mkdtemp())
            >>> _ = (folder / "a.md").write_text("# Airoboros\\nA model family.")
            >>> out = asyncio.run(SearchTool(LocalCorpus(folder)).run("airoboros", ToolContext()))
            >>> out.splitlines()[0]
            '1. Airoboros'
        """
        query = " ".join(input.split())
        if not query:
            raise ToolError("empty search query")
        results = await self.engine.search(query, self.limit)
        if not results:
            raise ToolError(f"no results for {query[:100]!r} from {self.engine.name}")
        return format_results(results)
