"""Helpers shared by the categories whose records are checked by code.

* :func:`item_rngs` draws one generator per item *before* any teacher call, so a round
  stays deterministic however its concurrent calls finish (resume replays it exactly);
* :func:`parse_field_blocks` reads ``KEY: value`` blocks with several keys;
* :func:`strip_preamble` cleans teacher prose.

Example:
    >>> [r.random() for r in item_rngs(random.Random(7), 2)] == [
    ...     r.random() for r in item_rngs(random.Random(7), 2)]
    True
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from airloom.formats.fences import strip_fence_lines

__all__ = ["item_rngs", "parse_field_blocks", "strip_preamble"]


def item_rngs(rng: random.Random, count: int) -> list[random.Random]:
    """``count`` independent generators drawn from a round's generator, up front.

    Example:
        >>> a = [r.random() for r in item_rngs(random.Random(1), 3)]
        >>> a == [r.random() for r in item_rngs(random.Random(1), 3)]
        True
    """
    return [random.Random(rng.getrandbits(64)) for _ in range(count)]


def _marker_re(keys: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(key) for key in sorted(keys, key=len, reverse=True))
    return re.compile(
        r"^[ \t]*(?:[-*#>]+[ \t]*|\d{1,3}[.)][ \t]*)?(?:\*\*|__)?"
        rf"(?P<key>{alternatives})(?:[ \t]*\d+)?[ \t]*"
        r"(?:\*\*|__)?[ \t]*:(?:\*\*|__)?[ \t]*",
        re.MULTILINE | re.IGNORECASE,
    )


def parse_field_blocks(text: str, keys: Sequence[str]) -> tuple[list[dict[str, str]], int]:
    """Blocks of ``KEY: value`` fields, each starting at ``keys[0]``; incomplete ones counted.

    A value runs to the next key line; a repeated key inside a block ends that block.
    Returns the complete blocks (every key present and non-empty) and how many blocks
    were incomplete.

    Example:
        >>> text = ("PERSONA: A pirate.\\nGREETING: Hi!\\nRESPONSE: Ahoy!\\n\\n"
        ...         "PERSONA: A cat.\\nGREETING: Hello\\n")
        >>> parse_field_blocks(text, ["PERSONA", "GREETING", "RESPONSE"])
        ([{'PERSONA': 'A pirate.', 'GREETING': 'Hi!', 'RESPONSE': 'Ahoy!'}], 1)
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    canonical = {key.lower(): key for key in keys}
    matches = list(_marker_re(keys).finditer(text))
    blocks: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for index, match in enumerate(matches):
        key = canonical[match.group("key").lower()]
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = strip_fence_lines(text[match.end() : end]).strip()
        if key == keys[0] or current is None or key in current:
            current = {}
            blocks.append(current)
        current[key] = value
    complete = [b for b in blocks if all(b.get(key) for key in keys)]
    return complete, len(blocks) - len(complete)


_PREAMBLE_RE = re.compile(
    r"^\s*(?:sure|certainly|of course|here(?:'s| is| are)|okay|ok)\b[^\n]*:\s*\n", re.IGNORECASE
)


def strip_preamble(text: str) -> str:
    """The text without a chatty first line such as ``Sure! Here is the story:``.

    Example:
        >>> strip_preamble("Sure, here is the text:\\nThe river rose.")
        'The river rose.'
    """
    return _PREAMBLE_RE.sub("", text, count=1).strip()
