"""Guarded fetching and the text-scraper tool.

:class:`GuardedFetcher` fetches one URL for a plan:

* every hop (the first URL and each redirect) goes through the SSRF guard, and
  the connection is made to the checked address (Host header and TLS SNI keep the
  name), so a second DNS answer cannot redirect it (no rebinding);
* redirects are followed by hand, at most ``policy.max_redirects``;
* the body is streamed: decoded bytes are capped (``max_bytes``, and the run's
  byte budget), and the whole fetch has one deadline checked per chunk *and*
  enforced around the fetch, so a server that drips one byte a second is cut off;
* only text content types are accepted; no proxies from the environment, no
  cookies, our own user agent.

:class:`TextScraper` is the plan tool: it takes the links in its input (at most
``max_urls``), fetches them concurrently (per-host limit) and returns the text of
each page under a ``--- URL ---`` header, with per-URL errors inline. Pages under
a local corpus folder (``file://`` URLs) can be read from disk when the scraper
is given that folder.

Example:
    >>> import asyncio
    >>> try:
    ...     asyncio.run(GuardedFetcher().fetch("http://[::1]:8080/"))
    ... except ToolError as exc:
    ...     exc.message
    'refused http://[::1]:8080/: port 8080 is not allowed'
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from airloom import __version__
from airloom.errors import BudgetExceeded, MissingDependencyError, ToolError
from airloom.runtime.budget import Budget
from airloom.runtime.tools.base import ToolContext, cap_text
from airloom.runtime.tools.extract import INVISIBLE, html_to_text
from airloom.runtime.tools.links import extract_links
from airloom.runtime.tools.ssrf import GuardPolicy, Resolver, resolve_target, system_resolver

__all__ = [
    "TEXT_TYPES",
    "USER_AGENT",
    "FetchLimits",
    "GuardedFetcher",
    "Page",
    "PageReader",
    "TextScraper",
    "read_local_page",
]

USER_AGENT = f"airloom/{__version__} (plan text scraper)"
TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "text/markdown"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_FILE_URL = re.compile(r"file://[^\s<>\"']+")


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Caps for one fetch: decoded bytes, total seconds, per-operation timeouts."""

    max_bytes: int = 2_000_000
    total_timeout_s: float = 20.0
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    content_types: frozenset[str] = TEXT_TYPES


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched page: final URL, status, content type, decoded body and how it was cut."""

    url: str
    status: int
    content_type: str
    body: bytes
    charset: str | None = None
    truncated: bool = False
    redirects: tuple[str, ...] = ()

    def text(self) -> str:
        """The page as plain text (HTML converted; plain text decoded).

        Example:
            >>> Page("http://x/", 200, "text/plain", "caf\\u00e9".encode()).text()
            'café'
        """
        if self.content_type in ("text/html", "application/xhtml+xml"):
            return html_to_text(self.body, self.charset)
        return INVISIBLE.sub("", self.body.decode(self.charset or "utf-8-sig", "replace"))


def _reject_all_cookies() -> http.cookiejar.CookieJar:
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _media_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    return media.strip().lower(), charset


class GuardedFetcher:
    """Fetch URLs chosen by a model, safely (see the module docs)."""

    def __init__(
        self,
        *,
        policy: GuardPolicy | None = None,
        limits: FetchLimits | None = None,
        resolver: Resolver = system_resolver,
        max_connections: int = 8,
        per_host: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy or GuardPolicy()
        self.limits = limits or FetchLimits()
        self.resolver = resolver
        self.per_host = per_host
        self._global = asyncio.Semaphore(max_connections)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = self.limits
            self._client = httpx.AsyncClient(
                trust_env=False,
                follow_redirects=False,
                cookies=_reject_all_cookies(),
                headers={"User-Agent": USER_AGENT, "Accept": "text/html,text/plain;q=0.9"},
                timeout=httpx.Timeout(
                    limits.read_timeout_s,
                    connect=limits.connect_timeout_s,
                    pool=limits.total_timeout_s,
                ),
                transport=self._transport,
            )
        return self._client

    async def fetch(self, url: str, budget: Budget | None = None) -> Page:
        """Fetch one URL under every guard; raise :class:`ToolError` (or BudgetExceeded).

        Example:
            >>> import asyncio
            >>> try:
            ...     asyncio.run(GuardedFetcher().fetch("http://127.0.0.1/"))
            ... except ToolError as exc:
            ...     exc.message
            'refused http://127.0.0.1/: 127.0.0.1 (loopback)'
        """
        budget = budget or Budget()
        budget.check_fetch()
        cap = self.limits.total_timeout_s
        remaining = budget.remaining_time()
        timeout = cap if remaining is None else max(0.0, min(cap, remaining))
        try:
            return await asyncio.wait_for(self._follow(url, budget, timeout), timeout)
        except asyncio.TimeoutError as exc:
            raise ToolError(f"{url[:200]} took longer than {timeout:g}s; cut off") from exc

    async def _follow(self, url: str, budget: Budget, timeout: float) -> Page:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        current, hops = url, []
        for _ in range(self.policy.max_redirects + 1):
            target = await resolve_target(current, self.policy, self.resolver)
            request = self._http().build_request(
                "GET",
                target.pinned_url,
                headers={"Host": target.host_header},
                extensions={"sni_hostname": target.sni} if target.sni else None,
            )
            async with self._slot(target.host):
                try:
                    response = await self._http().send(request, stream=True)
                except httpx.HTTPError as exc:
                    raise ToolError(f"cannot fetch {current[:200]}: {exc!r}") from exc
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        current = urljoin(current, location.strip())
                        hops.append(current)
                        continue
                    return await self._page(current, response, budget, deadline, tuple(hops))
                finally:
                    await response.aclose()
        raise ToolError(f"{url[:200]}: more than {self.policy.max_redirects} redirects")

    async def _page(
        self,
        url: str,
        response: httpx.Response,
        budget: Budget,
        deadline: float,
        hops: tuple[str, ...],
    ) -> Page:
        if response.status_code >= 400:
            raise ToolError(f"{url[:200]} answered HTTP {response.status_code}")
        media, charset = _media_type(response.headers.get("content-type"))
        if media and media not in self.limits.content_types:
            raise ToolError(f"{url[:200]} is {media}, not a text page")
        body, truncated = await self._read(url, response, budget, deadline)
        if not media:
            media = "text/html" if body.lstrip()[:1] == b"<" else "text/plain"
        if b"\x00" in body[:4096] and media == "text/plain":
            raise ToolError(f"{url[:200]} looks binary")
        return Page(url, response.status_code, media, body, charset, truncated, hops)

    async def _read(
        self, url: str, response: httpx.Response, budget: Budget, deadline: float
    ) -> tuple[bytes, bool]:
        loop = asyncio.get_running_loop()
        left = budget.bytes_left()
        cap = self.limits.max_bytes if left is None else min(self.limits.max_bytes, left)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                if loop.time() > deadline:
                    raise ToolError(f"{url[:200]} is too slow; cut off at the time cap")
                keep = chunk[: cap - size]
                chunks.append(keep)
                size += len(keep)
                budget.add_fetched_bytes(len(keep))
                if len(keep) < len(chunk) or size >= cap:
                    return b"".join(chunks), True
        except httpx.HTTPError as exc:
            raise ToolError(f"cannot read {url[:200]}: {exc!r}") from exc
        return b"".join(chunks), False

    def _slot(self, host: str) -> _Slots:
        semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self.per_host))
        return _Slots(self._global, semaphore)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class _Slots:
    """Hold a global and a per-host semaphore together."""

    def __init__(self, *semaphores: asyncio.Semaphore) -> None:
        self.semaphores = semaphores

    async def __aenter__(self) -> None:
        for semaphore in self.semaphores:
            await semaphore.acquire()

    async def __aexit__(self, *exc: object) -> None:
        for semaphore in reversed(self.semaphores):
            semaphore.release()


def read_local_page(url: str, root: Path, max_bytes: int) -> str:
    """Text of a ``file://`` URL that lies inside ``root`` (a local corpus); else ToolError.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()); _ = (folder / "a.txt").write_text("hi")
        >>> read_local_page((folder / "a.txt").as_uri(), folder, 100)
        'hi'
        >>> try:
        ...     read_local_page("file:///etc/passwd", folder, 100)
        ... except ToolError as exc:
        ...     "outside the corpus" in exc.message
        True
    """
    path = Path(unquote(urlsplit(url).path)).resolve()
    base = root.resolve()
    if path != base and base not in path.parents:
        raise ToolError(f"{url[:200]} is outside the corpus folder; refused")
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes)
    except OSError as exc:
        raise ToolError(f"cannot read {url[:200]}: {exc.strerror}") from exc
    if path.suffix.lower() in (".html", ".htm"):
        return html_to_text(data)
    return INVISIBLE.sub("", data.decode("utf-8-sig", "replace")).strip()


PageReader = Callable[[str, Budget], Awaitable[str]]


class TextScraper:
    """The scrape tool: links in (possibly inside prose), page text out."""

    name = "TextScraper"
    description = (
        "Load one or more websites from the input string containing newline delimited "
        "links, where input is one or more links, and produces plain text output "
        "containing the content of the links."
    )

    def __init__(
        self,
        fetcher: GuardedFetcher | None = None,
        *,
        max_urls: int = 5,
        max_chars_per_page: int = 6000,
        local_root: Path | None = None,
    ) -> None:
        self.fetcher = fetcher or GuardedFetcher()
        self.max_urls = max_urls
        self.max_chars_per_page = max_chars_per_page
        self.local_root = local_root

    def links_in(self, text: str) -> list[str]:
        """The URLs this scraper would read from ``text`` (capped, deduplicated).

        Example:
            >>> TextScraper(max_urls=1).links_in("https://a.example/ https://b.example/")
            ['https://a.example/']
        """
        links = extract_links(text, limit=self.max_urls)
        if self.local_root is not None:
            local = [m.group(0).rstrip(".,;:!?)'\"") for m in _FILE_URL.finditer(text)]
            links = list(dict.fromkeys([*local, *links]))[: self.max_urls]
        return links

    async def read(self, url: str, budget: Budget) -> str:
        """The text of one URL (guarded fetch, or a corpus file)."""
        if url.startswith("file://") and self.local_root is not None:
            return read_local_page(url, self.local_root, self.fetcher.limits.max_bytes)
        page = await self.fetcher.fetch(url, budget)
        text = await asyncio.to_thread(page.text)
        return f"{text}\n[page cut at the size cap]" if page.truncated else text

    async def run(self, input: str, ctx: ToolContext) -> str:
        """Read every link in ``input``; fail only when none could be read."""
        urls = self.links_in(input)
        if not urls:
            raise ToolError(
                "no http(s) links in the input",
                hint="give the scraper newline-separated URLs, e.g. from the link extractor",
            )
        results = await asyncio.gather(
            *(self.read(url, ctx.budget) for url in urls), return_exceptions=True
        )
        sections, failures = [], []
        for url, result in zip(urls, results, strict=True):
            if isinstance(result, BudgetExceeded | MissingDependencyError):
                raise result
            if isinstance(result, BaseException):
                message = result.message if isinstance(result, ToolError) else repr(result)
                failures.append(message)
                sections.append(f"--- {url} ---\n[error: {message}]")
            else:
                sections.append(f"--- {url} ---\n{cap_text(result, self.max_chars_per_page)}")
        if len(failures) == len(urls):
            raise ToolError(f"could not read any of {len(urls)} link(s): " + "; ".join(failures))
        return "\n\n".join(sections)
