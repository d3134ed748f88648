"""HTML to text for plan tools: hidden nodes out first, then trafilatura's extraction.

Scripts, styles, comments, ``hidden``/``aria-hidden``/``display:none`` nodes are
removed before extraction (they are a favourite carrier of injected
instructions), and zero-width, tag and bidi-control characters are stripped.

Example:
    >>> html_to_text(b"<html><body><script>x()</script><p>Hello <b>world</b></p>"
    ...              b"<p hidden>secret</p></body></html>")
    'Hello world'
"""

from __future__ import annotations

import re

__all__ = ["INVISIBLE", "decode_html", "html_to_text"]

_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg")
_BLOCK_TAG_NAMES = (
    "p div br li tr h1 h2 h3 h4 h5 h6 section article pre blockquote table ul ol "
    "header footer title dd dt"
)
_BLOCK_TAGS = frozenset(_BLOCK_TAG_NAMES.split())
INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)


_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I
)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def decode_html(data: bytes, charset: str | None = None) -> str:
    """Decode HTML bytes: BOM, then the HTTP charset, then ``<meta charset>``, then UTF-8.

    Bytes that are not valid UTF-8 without any declaration are read as windows-1252.

    Example:
        >>> decode_html(b'<meta charset="windows-1252"><p>caf\\xe9')
        '<meta charset="windows-1252"><p>café'
        >>> decode_html("\\ufeffna\\u00efve".encode())
        'naïve'
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace")
    declared = _META_CHARSET.search(data[:4096])
    for candidate in (charset, declared.group(1).decode("ascii") if declared else None):
        if candidate:
            try:
                return data.decode(candidate, "replace")
            except LookupError:
                continue
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _strip_hidden(html: str) -> str:
    """Drop scripts, styles, comments and hidden nodes before extraction (an injection carrier)."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        doc = lxml_html.fromstring(html)
    except (etree.ParserError, ValueError):
        return html
    for node in list(doc.iter(etree.Comment, etree.ProcessingInstruction, *_DROP_TAGS)):
        _drop(node)
    for node in list(doc.iter()):
        if not isinstance(node.tag, str):
            continue
        hidden = (
            node.get("hidden") is not None
            or (node.get("aria-hidden") or "").lower() == "true"
            or _HIDDEN_STYLE.search(node.get("style") or "")
        )
        if hidden:
            _drop(node)
    return str(lxml_html.tostring(doc, encoding="unicode"))


def _drop(node: object) -> None:
    parent = node.getparent()  # type: ignore[attr-defined]
    if parent is None:
        return
    tail = node.tail  # type: ignore[attr-defined]
    if tail:
        previous = node.getprevious()  # type: ignore[attr-defined]
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(node)


def _plain_lxml_text(html: str) -> str:
    from lxml import html as lxml_html

    doc = lxml_html.fromstring(html)
    for node in doc.iter(*sorted(_BLOCK_TAGS)):
        node.tail = "\n" + (node.tail or "")
    lines = (" ".join(line.split()) for line in doc.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def html_to_text(html: bytes | str, charset: str | None = None) -> str:
    """Main text of an HTML page: hidden nodes removed, then trafilatura's extraction.

    Falls back to trafilatura's whole-page text when its main-content heuristics
    find nothing (very short pages), and to a plain lxml text walk when that is
    empty too (fragments) or trafilatura cannot be imported.

    Example:
        >>> html_to_text("<p>a\\u200b<span style='display: none'>x</span>b</p>")
        'ab'
    """
    text = decode_html(html, charset) if isinstance(html, bytes) else html
    text = _XML_DECLARATION.sub("", text)
    if not text.strip():
        return ""
    cleaned = _strip_hidden(text)
    try:
        import trafilatura
    except ImportError:
        text = _plain_lxml_text(cleaned)
    else:
        text = trafilatura.extract(cleaned, favor_precision=True, include_comments=False) or ""
        if not text.strip():
            text = trafilatura.html2txt(cleaned) or _plain_lxml_text(cleaned)
    return INVISIBLE.sub("", text).strip()
