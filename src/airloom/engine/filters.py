"""Refusal / AI-mention filter: the original's regex list by default, hit counts kept;
and the subjects of ``topic_avoidance`` as a filter on tasks.

Example:
    >>> f = ResponseFilter(["language model"])
    >>> f.match("As a Language Model, I cannot"), f.match("Paris is in France.")
    ('language model', None)
    >>> f.refusal("I’m sorry, I am not sure what you are asking.")
    "opener: I'm sorry,"
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["REFUSAL_OPENERS", "ResponseFilter", "avoidance_filter", "avoided_subjects"]

#: Openers that mark a refusal (case-sensitive prefix test, as in the original).
REFUSAL_OPENERS = ("I'm sorry,", "Apologies,", "I can't", "I won't")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})


class ResponseFilter:
    """Case-insensitive regex blacklist plus refusal openers; counts hits per pattern."""

    def __init__(
        self,
        patterns: Sequence[str],
        *,
        openers: Sequence[str] = REFUSAL_OPENERS,
        names: Sequence[str] | None = None,
    ) -> None:
        self.patterns = list(names) if names is not None else list(patterns)
        self.openers = tuple(openers)
        self._compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
        self.hits: Counter[str] = Counter()

    def refusal(self, text: str) -> str | None:
        """The refusal opener ``text`` starts with (typographic apostrophes count), counted.

        This check holds even where the pattern list is switched off (code answers),
        as a refusal is never a valid answer.
        """
        stripped = text.lstrip().translate(_APOSTROPHES)
        for opener in self.openers:
            if stripped.startswith(opener):
                self.hits[f"opener: {opener}"] += 1
                return f"opener: {opener}"
        return None

    def match(self, text: str) -> str | None:
        """The first pattern (or opener) that matches ``text``, counted; None if clean."""
        opener = self.refusal(text)
        if opener is not None:
            return opener
        for pattern, compiled in zip(self.patterns, self._compiled, strict=True):
            if compiled.search(text):
                self.hits[pattern] += 1
                return pattern
        return None


_AVOID_STOP = re.compile(r",?\s+or any\b|\be\.g\.|[.;](?:\s|$)", re.IGNORECASE)


def avoided_subjects(sentence: str) -> list[str]:
    """The subjects a ``topic_avoidance`` sentence lists, one phrase each.

    The list is read after "related to" (when present) up to "or any …", the end of the
    sentence or "e.g."; parentheses, commas, slashes and "and/or" separate subjects.

    Example:
        >>> avoided_subjects("Avoid tasks related to climate change, DEI (diversity, equity), "
        ...                  "baking/cooking, or any topic you dislike.")
        ['climate change', 'DEI', 'diversity', 'equity', 'baking', 'cooking']
        >>> avoided_subjects("")
        []
    """
    found = re.search(r"\brelated to\b(.*)", sentence, re.IGNORECASE | re.DOTALL)
    text = found.group(1) if found else sentence
    text = _AVOID_STOP.split(text, maxsplit=1)[0]
    text = re.sub(r"\s*\(([^)]*)\)", r", \1", text)
    text = re.sub(r"\band/or\b", ",", text, flags=re.IGNORECASE)
    parts = re.split(r",|/|\bor\b|\band\b", text)
    subjects = [" ".join(part.split()).strip(" .:'\"") for part in parts]
    return [s for s in dict.fromkeys(subjects) if s and len(s.split()) <= 4]


def avoidance_filter(subjects: Sequence[str]) -> ResponseFilter:
    """A filter matching any of ``subjects`` as whole words (plural endings allowed).

    Example:
        >>> f = avoidance_filter(["climate change", "religion"])
        >>> f.match("Explain the effects of Climate Change on coral."), f.match("Sort a list.")
        ('climate change', None)
        >>> f.match("Compare two world religions.")
        'religion'
    """
    patterns = [rf"\b{re.escape(subject)}(?:s|es)?\b" for subject in subjects]
    return ResponseFilter(patterns, openers=(), names=subjects)
