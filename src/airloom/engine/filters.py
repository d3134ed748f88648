"""Refusal / AI-mention filter: the original's regex list by default, hit counts kept.

Example:
    >>> f = ResponseFilter(["language model"])
    >>> f.match("As a Language Model, I cannot"), f.match("Paris is in France.")
    ('language model', None)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

#: Openers that mark a refusal (case-sensitive prefix test, as in the original).
REFUSAL_OPENERS = ("I'm sorry,", "Apologies,", "I can't", "I won't")


class ResponseFilter:
    """Case-insensitive regex blacklist plus refusal openers; counts hits per pattern."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = list(patterns)
        self._compiled = [re.compile(p, re.IGNORECASE) for p in self.patterns]
        self.hits: Counter[str] = Counter()

    def match(self, text: str) -> str | None:
        """The first pattern (or opener) that matches ``text``, counted; None if clean."""
        stripped = text.lstrip()
        for opener in REFUSAL_OPENERS:
            if stripped.startswith(opener):
                self.hits[f"opener: {opener}"] += 1
                return f"opener: {opener}"
        for pattern, compiled in zip(self.patterns, self._compiled, strict=True):
            if compiled.search(text):
                self.hits[pattern] += 1
                return pattern
        return None
