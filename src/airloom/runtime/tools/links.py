"""Hyperlink extraction: absolute http(s) URLs from text, markdown or HTML.

Pure. URLs keep their order of first appearance, lose their fragment and any
trailing punctuation (``.,;:!?'"`` and an unbalanced ``)``), are deduplicated and
capped. Relative links (``href``, markdown) are resolved against ``base`` or the
page's ``<base href>``; ``javascript:``, ``mailto:``, ``data:`` and other schemes
are dropped.

Example:
    >>> extract_links("See https://a.example/x#top, and [b](/docs?q=1).", base="https://b.example/")
    ['https://a.example/x', 'https://b.example/docs?q=1']
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from airloom.errors import ToolError
from airloom.runtime.tools.base import ToolContext

__all__ = ["WEB_SCHEMES", "HyperlinkExtractor", "extract_links", "normalise_url"]

_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)
_BASE = re.compile(r"""<base\b[^>]*?\bhref\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_BASE_TAG = re.compile(r"<base\b[^>]*>", re.IGNORECASE)
_MARKDOWN = re.compile(r"\[[^\]\n]{0,500}\]\(\s*<?([^()\s<>]+(?:\([^()\s]*\))?[^()\s<>]*)>?")
_ANGLE = re.compile(r"<(https?://[^<>\s]+)>", re.IGNORECASE)
_BARE = re.compile(r"https?://[^\s<>\"'`\[\]{}|\\^]+", re.IGNORECASE)
_FILE = re.compile(r"file://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*_"
WEB_SCHEMES = ("http", "https")


def _trim(url: str) -> str:
    while url:
        unbalanced = url.endswith(")") and url.count("(") < url.count(")")
        if url[-1] in _TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def normalise_url(
    url: str, base: str | None = None, schemes: tuple[str, ...] = WEB_SCHEMES
) -> str | None:
    """An absolute http(s) URL without fragment, or ``None`` when it is not one.

    Example:
        >>> normalise_url("../b#x", "https://h.example/a/c")
        'https://h.example/b'
        >>> normalise_url("mailto:me@example.com") is None
        True
    """
    url = html.unescape(url.strip())
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in schemes or (scheme != "file" and not parts.netloc):
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


def _candidates(text: str) -> list[tuple[int, str, bool]]:
    """(position, raw URL, may be relative) for every link-like span."""
    found: list[tuple[int, str, bool]] = []
    for match in _HREF.finditer(text):
        value = next(group for group in match.groups() if group is not None)
        found.append((match.start(), value, True))
    for match in _MARKDOWN.finditer(text):
        found.append((match.start(1), match.group(1), True))
    for match in _ANGLE.finditer(text):
        found.append((match.start(1), match.group(1), False))
    for match in _BARE.finditer(text):
        found.append((match.start(), _trim(match.group(0)), False))
    for match in _FILE.finditer(text):
        found.append((match.start(), _trim(match.group(0)), False))
    found.sort(key=lambda item: item[0])
    return found


def extract_links(
    text: str, *, base: str | None = None, limit: int = 20, schemes: tuple[str, ...] = WEB_SCHEMES
) -> list[str]:
    """Absolute http(s) links in order of appearance, deduplicated, at most ``limit``.

    Example:
        >>> extract_links('<base href="https://s.example/d/"><a href="p.html">p</a> '
        ...               '<a href="javascript:x()">j</a> https://s.example/d/p.html')
        ['https://s.example/d/p.html']
        >>> extract_links("(see https://w.example/Foo_(bar)) and https://w.example/x).")
        ['https://w.example/Foo_(bar)', 'https://w.example/x']
    """
    page_base = _BASE.search(text)
    base = normalise_url(page_base.group(1), base, schemes) if page_base else base
    text = _BASE_TAG.sub(" ", text)
    links: list[str] = []
    seen: set[str] = set()
    for _, raw, relative in _candidates(text):
        url = normalise_url(_trim(raw), base if relative else None, schemes)
        if url is None or url in seen:
            continue
        seen.add(url)
        links.append(url)
        if len(links) >= limit:
            break
    return links


class HyperlinkExtractor:
    """The link-extraction tool: text in, newline-separated absolute URLs out.

    With ``local_root`` (a local corpus folder), ``file://`` links inside that folder
    are kept too, so an offline plan can go search -> links -> scrape.
    """

    name = "HyperlinkExtractor"
    description = (
        "Extract links from plain text and produces a plain text, newline delimited "
        "response of links."
    )

    def __init__(
        self, *, limit: int = 20, base: str | None = None, local_root: Path | None = None
    ) -> None:
        self.limit = limit
        self.base = base
        self.local_root = local_root

    def _allowed(self, url: str) -> bool:
        if not url.startswith("file:"):
            return True
        if self.local_root is None:
            return False
        path = Path(unquote(urlsplit(url).path)).resolve()
        return self.local_root.resolve() in path.parents

    async def run(self, input: str, ctx: ToolContext) -> str:
        """Return the links found in ``input``; a :class:`ToolError` when there are none.

        Example:
            >>> import asyncio
            >>> asyncio.run(HyperlinkExtractor().run("a https://x.example/ b", ToolContext()))
            'https://x.example/'
        """
        schemes = WEB_SCHEMES if self.local_root is None else (*WEB_SCHEMES, "file")
        found = extract_links(input, base=self.base, limit=self.limit * 4, schemes=schemes)
        links = [url for url in found if self._allowed(url)][: self.limit]
        if not links:
            raise ToolError(
                "no http(s) links found in the input",
                hint="give the extractor search results or page text that contains URLs",
            )
        return "\n".join(links)
