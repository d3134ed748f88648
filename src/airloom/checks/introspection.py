"""Check of chat introspection records (``introspection``): the answer to a question
about the character, the setting or an earlier turn is grounded in the conversation.

The record keeps, in ``meta``, the question's ``kind`` (``character``, ``setting`` or
``earlier``) and the ``evidence`` phrases the answer relies on. Every phrase must
occur in its source — the system prompt (description and setting) for ``character``
and ``setting``, the turns before the question for ``earlier`` — compared without
case, punctuation or spacing differences; and every phrase must share at least one
key word with the final answer, so the answer states the facts it claims to rest on.

Example:
    >>> from airloom.formats.records import make_record
    >>> record = make_record(system="Ann bakes rye bread in Lyon.", meta={"kind": "character",
    ...           "evidence": ["bakes rye bread"]},
    ...           conversation=[{"role": "user", "content": "Bo: What do you bake?"},
    ...                            {"role": "assistant", "content": "Ann: Rye bread, mostly."}])
    >>> check_introspection(record).ok
    True
    >>> record.meta["evidence"] = ["sells croissants"]
    >>> check_introspection(record).reason
    "evidence 'sells croissants' is not in the system prompt"
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from airloom.checks import Verdict
from airloom.formats.records import Record

__all__ = ["KINDS", "check_introspection", "key_words", "normalise", "ungrounded"]

KINDS = ("character", "setting", "earlier")

_STOPWORDS = frozenset(
    {
        "the",
        "and",
        "that",
        "this",
        "with",
        "from",
        "have",
        "has",
        "had",
        "was",
        "were",
        "are",
        "for",
        "not",
        "but",
        "you",
        "your",
        "they",
        "them",
        "their",
        "there",
        "here",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "will",
        "would",
        "could",
        "should",
        "about",
        "into",
        "onto",
        "over",
        "under",
        "than",
        "then",
        "very",
        "just",
        "also",
        "only",
        "some",
        "such",
        "been",
        "being",
        "its",
        "it's",
    }
)


def normalise(text: str) -> str:
    """Lower-case words only, single spaces (for containment tests).

    Example:
        >>> normalise("It’s  the BLUE door!")
        'it s the blue door'
    """
    return " ".join(re.findall(r"\w+", text.casefold()))


def key_words(phrase: str) -> set[str]:
    """Words of a phrase that carry content (4+ letters, not a stopword).

    Example:
        >>> sorted(key_words("the blue door of the bakery"))
        ['bakery', 'blue', 'door']
    """
    return {w for w in normalise(phrase).split() if len(w) >= 4 and w not in _STOPWORDS} or {
        w for w in normalise(phrase).split() if w not in _STOPWORDS
    }


def ungrounded(evidence: Sequence[str], source: str, answer: str, source_name: str) -> str:
    """Why the evidence does not ground the answer, or ``""``.

    Example:
        >>> ungrounded(["red kite"], "a red kite flew", "A kite, red as wine.", "the chat")
        ''
    """
    if not evidence:
        return "no evidence phrases"
    haystack = f" {normalise(source)} "
    answer_words = set(normalise(answer).split())
    for phrase in evidence:
        needle = normalise(phrase)
        if not needle or f" {needle} " not in haystack:
            return f"evidence {phrase[:60]!r} is not in {source_name}"
        if not key_words(phrase) & answer_words:
            return f"the answer does not use the evidence {phrase[:60]!r}"
    return ""


def check_introspection(record: Record) -> Verdict:
    """Evidence found in its source and used by the answer (see the module docstring)."""
    meta = record.meta
    kind = meta.get("kind")
    if kind not in KINDS:
        return Verdict.failed(f"unknown introspection kind {kind!r}")
    evidence = [str(e) for e in meta.get("evidence") or []]
    turns = record.conversation or ()
    if len(turns) < 2:
        return Verdict.failed("no question and answer in the conversation")
    answer = turns[-1].content
    if kind == "earlier":
        source = "\n".join(t.content for t in turns[:-2])
        source_name = "the earlier turns"
    else:
        source = record.system or ""
        source_name = "the system prompt"
    reason = ungrounded(evidence, source, answer, source_name)
    return Verdict.failed(reason) if reason else Verdict.passed()
