"""Record helpers shared by curation: content hashes, canonical form, texts, building.

Curation works on records in the dict form of :meth:`Store.iter_records` (``id``,
``category``, ``instruction``, ``response``, ``system``, ``conversation``,
``skip_prompt_formatting``, ``meta``, …), whether they come from a store or a file.

Example:
    >>> a = make_record("general", "Name a river.", "The Nile.")
    >>> b = make_record("general", "Name a river.", "The Nile.", meta={"source": "x"})
    >>> content_hash(a) == content_hash(b), a["id"] == b["id"]
    (True, True)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from airloom.store.database import dedup_key, record_id

#: The fields that define a record's content (what round trips and hashes compare).
CANONICAL_FIELDS = (
    "category",
    "instruction",
    "response",
    "system",
    "conversation",
    "skip_prompt_formatting",
)


def canonical(record: Mapping[str, Any]) -> dict[str, Any]:
    """The content fields of a record, normalised (empty system → None, turns as dicts).

    Example:
        >>> canonical({"category": "general", "instruction": "a", "response": "b",
        ...            "system": "", "skip_prompt_formatting": 0})["system"] is None
        True
    """
    turns = record.get("conversation") or None
    return {
        "category": str(record.get("category") or "general"),
        "instruction": str(record.get("instruction") or ""),
        "response": str(record.get("response") or ""),
        "system": record.get("system") or None,
        "conversation": [{"role": str(t["role"]), "content": str(t["content"])} for t in turns]
        if turns
        else None,
        "skip_prompt_formatting": bool(record.get("skip_prompt_formatting")),
    }


def content_hash(record: Mapping[str, Any]) -> str:
    """A stable hash of a record's content: the key its verdicts are cached under.

    Example:
        >>> len(content_hash({"instruction": "a", "response": "b"}))
        32
    """
    blob = json.dumps(canonical(record), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def user_turns(record: Mapping[str, Any]) -> list[str]:
    """The user-side texts of a record (every user turn of a conversation).

    Example:
        >>> user_turns({"instruction": "q", "conversation": [{"role": "user", "content": "a"},
        ...     {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]})
        ['a', 'c']
    """
    turns = record.get("conversation")
    if turns:
        return [str(t["content"]) for t in turns if t.get("role") == "user"]
    return [str(record.get("instruction") or "")]


def assistant_texts(record: Mapping[str, Any]) -> list[str]:
    """The assistant-side texts of a record (every assistant turn of a conversation).

    Example:
        >>> assistant_texts({"response": "r"})
        ['r']
    """
    turns = record.get("conversation")
    if turns:
        return [str(t["content"]) for t in turns if t.get("role") == "assistant"]
    return [str(record.get("response") or "")]


def dedup_text(record: Mapping[str, Any]) -> str:
    """The text compared for duplicates: the instruction, or every user turn joined.

    Example:
        >>> dedup_text({"instruction": "Name a river."})
        'Name a river.'
    """
    return "\n".join(user_turns(record))


def exact_key(record: Mapping[str, Any]) -> str:
    """Exact-duplicate key of a record (case and whitespace of its dedup text ignored).

    Example:
        >>> exact_key({"instruction": "Hi  there"}) == exact_key({"instruction": "hi there"})
        True
    """
    return dedup_key(dedup_text(record))


def make_record(
    category: str,
    instruction: str,
    response: str,
    *,
    system: str | None = None,
    conversation: Sequence[Mapping[str, str]] | None = None,
    skip_prompt_formatting: bool = False,
    record_id_: str | None = None,
    meta: Mapping[str, Any] | None = None,
    topic: str | None = None,
) -> dict[str, Any]:
    """A record dict as curation uses it; the id is content-derived unless given.

    Example:
        >>> make_record("general", "q", "a")["skip_prompt_formatting"]
        False
    """
    turns = [{"role": str(t["role"]), "content": str(t["content"])} for t in conversation or []]
    rid = record_id_ or record_id(
        category, instruction, response, json.dumps(turns, ensure_ascii=False) if turns else None
    )
    return {
        "id": rid,
        "category": category,
        "unit": rid,
        "instruction": instruction,
        "response": response,
        "system": system or None,
        "conversation": turns or None,
        "skip_prompt_formatting": bool(skip_prompt_formatting),
        "topic": topic,
        "meta": dict(meta or {}),
    }
