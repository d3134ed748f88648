"""Compile tool inputs into literal text and references; render them in one pass.

A compiled input is a tuple such as ``("Who maintains X, given ", Ref(2), "?")``.
Rendering joins the parts with the evidence values. Because references are found
once, in the plan text, and values are only ever *inserted*:

* ``#E1`` can never clobber ``#E10`` (the scanner reads whole numbers);
* tool output that happens to contain ``:evidence2:`` or ``#E2`` is passed on
  literally, never expanded (tool output is never scanned for references).

Example:
    >>> parts = compile_text("compare #E10 and #E1")
    >>> render(parts, {1: "ONE", 10: "TEN"})
    'compare TEN and ONE'
    >>> render(compile_text("see :evidence0:"), {0: "value with :evidence1: inside"})
    'see value with :evidence1: inside'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from airloom.runtime.plan_ir import Part, Ref, RefSyntax

__all__ = [
    "MAX_ID_DIGITS",
    "REF_PATTERN",
    "compile_text",
    "parse_id",
    "placeholders_in",
    "refs_of",
    "render",
]

MAX_ID_DIGITS = 9
"""Longer ids are clamped to ``10**9`` so that the validator can reject them cleanly."""

REF_PATTERN = (
    r"(?<![A-Za-z0-9_])(?:"
    r":evidence(?:\[(?P<cb>\d+)\]|(?P<cd>\d+))(?::|(?![A-Za-z0-9_]))"
    r"|#E(?:\[(?P<hb>\d+)\]|(?P<hd>\d+))(?![A-Za-z0-9_])"
    r")"
)
"""A reference as used inside an input (named groups ``cb``, ``cd``, ``hb``, ``hd``)."""
_REF = re.compile(REF_PATTERN, re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r":evidence\[(?!\d+\])[^\]\n]{0,20}\]:?|#E\[(?!\d+\])[^\]\n]{0,20}\]", re.I
)


def parse_id(digits: str) -> int:
    """Turn the digits of an id into an int, clamping absurd lengths.

    Example:
        >>> parse_id("007")
        7
        >>> parse_id("9" * 50)
        1000000000
    """
    if len(digits) > MAX_ID_DIGITS:
        return int(10**MAX_ID_DIGITS)
    return int(digits)


def compile_text(text: str) -> tuple[Part, ...]:
    """Split text into literal strings and :class:`Ref` parts (single pass).

    Accepts ``:evidence3:``, ``:evidence3`` (no closing colon), ``:evidence[3]:``,
    ``#E3`` and ``#E[3]``, case-insensitively.

    Example:
        >>> parts = compile_text("Who is :evidence1, given #e2?")
        >>> parts[1], parts[3]
        (Ref(id=1, syntax='colon', raw=':evidence1'), Ref(id=2, syntax='hash', raw='#e2'))
    """
    parts: list[Part] = []
    position = 0
    for match in _REF.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        digits = match.group("cb") or match.group("cd") or match.group("hb") or match.group("hd")
        syntax: RefSyntax = "colon" if match.group(0).startswith(":") else "hash"
        parts.append(Ref(parse_id(digits), syntax, match.group(0)))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)


def refs_of(parts: Iterable[Part]) -> tuple[Ref, ...]:
    """The references among compiled parts, in order.

    Example:
        >>> [r.id for r in refs_of(compile_text("a :evidence2: b #E2 :evidence0:"))]
        [2, 2, 0]
    """
    return tuple(part for part in parts if isinstance(part, Ref))


def placeholders_in(text: str) -> list[str]:
    """Unfilled template placeholders such as ``:evidence[n]:`` (a plan defect).

    Example:
        >>> placeholders_in("Answer: [:evidence[n]: containing the final answer.]")
        [':evidence[n]:']
        >>> placeholders_in(":evidence[3]:")
        []
    """
    return [match.group(0) for match in _PLACEHOLDER.finditer(text)]


def render(
    parts: Iterable[Part],
    values: Mapping[int, str],
    *,
    transform: Callable[[Ref, str], str] | None = None,
) -> str:
    """Join compiled parts, inserting ``values[ref.id]`` for each reference.

    ``transform`` may reshape each inserted value (truncate it, label it). A missing
    value raises ``KeyError``: the validator guarantees every reference is defined,
    and an empty string is never substituted silently.

    Example:
        >>> render(("a ", Ref(1), "!"), {1: "b"}, transform=lambda ref, v: v.upper())
        'a B!'
    """
    out: list[str] = []
    for part in parts:
        if isinstance(part, Ref):
            value = values[part.id]
            out.append(transform(part, value) if transform else value)
        else:
            out.append(part)
    return "".join(out)
