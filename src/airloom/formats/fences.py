"""Markdown code fences in teacher and model text: one pattern, a few pure helpers.

A fence line is three or more backticks or tildes, an optional tag (``python``,
``c++``, ``c#``, ``objective-c``) and, on an opening line, perhaps more words (no
backtick); a block closes at a bare fence of
the same character at least as long as the one that opened it (CommonMark), and an
unclosed block runs to the end of the text.

Example:
    >>> strip_fence_lines("```json\\n{}\\n```")
    '{}\\n'
    >>> first_fenced_block("Here:\\n~~~yaml\\na: 1\\n~~~\\nDone.")
    'a: 1'
    >>> trim_edge_fences("```\\nx = 1\\n```")
    'x = 1'
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = [
    "FENCE_LINE",
    "fenced_blocks",
    "first_fenced_block",
    "is_fence_line",
    "strip_fence_lines",
    "trim_edge_fences",
    "unwrap_fence",
]

FENCE_LINE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[\w+#.-]*)(?P<info>[ \t]+[^`\n]*?)?[ \t]*$", re.M
)
"""A whole fence line (``re.M``): ``fence`` the marker, ``tag`` the language, ``info``
anything after it (an opening line only)."""

_FENCE_LINE_BREAK = re.compile(
    r"^[ \t]*(?:`{3,}|~{3,})[ \t]*[\w+#.-]*(?:[ \t]+[^`\n]*?)?[ \t]*(?:\n|\Z)", re.M
)
_EDGE_FENCES = re.compile(
    r"\A(?:[ \t]*(?:`{3,}|~{3,})[ \t]*[\w+#.-]*[ \t]*(?:\n|\Z))+"
    r"|(?:(?:\A|\n)[ \t]*(?:`{3,}|~{3,})[ \t]*)+\Z"
)


def is_fence_line(line: str) -> bool:
    """Whether ``line`` is a fence line (opening or closing).

    Example:
        >>> is_fence_line("  ```python"), is_fence_line("~~~"), is_fence_line("``x``")
        (True, True, False)
    """
    return FENCE_LINE.fullmatch(line.rstrip("\n")) is not None


def strip_fence_lines(text: str) -> str:
    """``text`` without its fence lines (the lines between them are kept).

    Example:
        >>> strip_fence_lines("A:\\n```c++\\nint x;\\n```\\nB")
        'A:\\nint x;\\nB'
    """
    return _FENCE_LINE_BREAK.sub("", text)


def trim_edge_fences(text: str) -> str:
    """``text`` stripped, without the fence lines that open or close it (a reply wrapped
    whole in a fence, or a list whose last item kept the closing fence).

    Example:
        >>> trim_edge_fences("  ```json\\n{\\"a\\": 1}\\n```  "), trim_edge_fences("yes\\n```")
        ('{"a": 1}', 'yes')
    """
    return _EDGE_FENCES.sub("", text.strip()).strip()


def _closes(line: str, fence: str) -> bool:
    closing = FENCE_LINE.fullmatch(line)
    return (
        closing is not None
        and not closing["tag"]
        and not closing["info"]
        and closing["fence"][0] == fence[0]
        and len(closing["fence"]) >= len(fence)
    )


def fenced_blocks(text: str) -> Iterator[tuple[str, str]]:
    """Each fenced block of ``text`` as (tag, content), in order.

    Example:
        >>> list(fenced_blocks("a\\n```sh\\necho hi\\n```\\nb\\n````\\nx\\n```\\n````"))
        [('sh', 'echo hi'), ('', 'x\\n```')]
    """
    lines = text.replace("\r\n", "\n").split("\n")
    start = 0
    while start < len(lines):
        opened = FENCE_LINE.fullmatch(lines[start])
        if opened is None:
            start += 1
            continue
        end = start + 1
        while end < len(lines) and not _closes(lines[end], opened["fence"]):
            end += 1
        yield opened["tag"], "\n".join(lines[start + 1 : end])
        start = end + 1


def unwrap_fence(text: str) -> str:
    """The content of a text that is exactly one closed fenced block, else the text
    (both stripped): for replies that must be bare apart from an optional fence.

    Example:
        >>> unwrap_fence(" ```json\\n{}\\n``` "), unwrap_fence("```json\\n{}")
        ('{}', '```json\\n{}')
    """
    lines = text.strip().split("\n")
    opened = FENCE_LINE.fullmatch(lines[0])
    if len(lines) >= 2 and opened is not None and _closes(lines[-1], opened["fence"]):
        return "\n".join(lines[1:-1]).strip()
    return text.strip()


def first_fenced_block(text: str) -> str | None:
    """The content of the first fenced block (an unclosed one runs to the end), or None.

    Example:
        >>> first_fenced_block("x\\n```yaml\\na: 1\\n```"), first_fenced_block("plain")
        ('a: 1', None)
    """
    return next((content for _, content in fenced_blocks(text)), None)
