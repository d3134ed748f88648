"""The record: one typed, frozen value from the teacher's reply to every export and back.

A :class:`Record` is what the store keeps and what every check, curation step, export
and the trainer read: its content (``category``, ``instruction``, ``response``,
``system``, the multi-turn ``conversation`` of :class:`Turn` and the
``skip_prompt_formatting`` flag), where it came from (``topic``, ``unit``, ``meta``,
:class:`Provenance`) and, inside the store, its dedup key and embedding. The
conversions to and from the published row shapes live in :mod:`airloom.formats.rows`.

Example:
    >>> a = make_record("general", "Name a river.", "The Nile.")
    >>> b = make_record("general", "Name a river.", "The Nile.", meta={"source": "x"})
    >>> a.content_hash == b.content_hash, a.id == b.id, a.unit == a.id
    (True, True, True)
    >>> [turn["role"] for turn in a.with_system("Be brief.").chat_messages()]
    ['system', 'user', 'assistant']
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CONTENT_FIELDS",
    "Provenance",
    "Record",
    "Turn",
    "dedup_key",
    "make_record",
    "record_id",
    "turns_of",
]

#: The fields that define a record's content (what round trips and hashes compare).
CONTENT_FIELDS = (
    "category",
    "instruction",
    "response",
    "system",
    "conversation",
    "skip_prompt_formatting",
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a multi-turn record (``role`` is system, user or assistant).

    Example:
        >>> Turn("user", "Hi").as_dict()
        {'role': 'user', 'content': 'Hi'}
    """

    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        """The turn as a ``role``/``content`` mapping (chat templates, JSON)."""
        return {"role": self.role, "content": self.content}


def turns_of(raw: Iterable[Turn | Mapping[str, Any]] | None) -> tuple[Turn, ...] | None:
    """Turns from :class:`Turn` values or ``role``/``content`` mappings; None when empty.

    Example:
        >>> turns_of([{"role": "user", "content": "a"}, Turn("assistant", "b")])
        (Turn(role='user', content='a'), Turn(role='assistant', content='b'))
        >>> turns_of([]) is None
        True
    """
    turns = tuple(
        t if isinstance(t, Turn) else Turn(str(t["role"]), str(t["content"])) for t in raw or ()
    )
    return turns or None


def dedup_key(text: str) -> str:
    """Hash of a text with case and whitespace normalised (exact-duplicate key).

    Example:
        >>> dedup_key("Hello  World") == dedup_key("hello world\\n")
        True
    """
    normal = " ".join(text.lower().split())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:32]


def record_id(category: str, instruction: str, response: str, unit: str | None = None) -> str:
    """Deterministic id: a replayed round yields the same id, so it cannot be stored twice.

    Example:
        >>> record_id("general", "a", "b") == record_id("general", "a", "b")
        True
    """
    blob = json.dumps([category, instruction, response, unit or ""], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a generated record came from (all empty for imported ones).

    Example:
        >>> Provenance(model="teacher").seed is None
        True
    """

    instructor: str | None = None
    model: str | None = None
    endpoint: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    template_hash: str | None = None
    seed: int | None = None
    run_id: str | None = None
    round_key: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Record:
    """One instruction-tuning record (see the module docstring).

    ``unit`` groups records that count as one (a session; default: the record's id).
    ``dedup_key`` defaults to the exact key of :attr:`dedup_text`. ``embedding`` is the
    stored vector (not compared, absent when read for export).

    Example:
        >>> record = Record("r1", "general", "Hi?", "Hello.", system="")
        >>> record.unit, record.system, record.user_texts
        ('r1', None, ['Hi?'])
    """

    id: str
    category: str
    instruction: str
    response: str
    system: str | None = None
    conversation: tuple[Turn, ...] | None = None
    skip_prompt_formatting: bool = False
    topic: str | None = None
    unit: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    dedup_key: str = ""
    embedding: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(self, "system", self.system or None)
        set_field(self, "conversation", turns_of(self.conversation))
        set_field(self, "skip_prompt_formatting", bool(self.skip_prompt_formatting))
        set_field(self, "unit", self.unit or self.id)
        if not self.dedup_key:
            set_field(self, "dedup_key", dedup_key(self.dedup_text))

    # ---- derived texts ------------------------------------------------------------------
    @property
    def user_texts(self) -> list[str]:
        """The user-side texts: every user turn of a conversation, else the instruction.

        Example:
            >>> make_record("rp", "a", "b", conversation=[Turn("user", "a"),
            ...     Turn("assistant", "x"), Turn("user", "c"), Turn("assistant", "b")]).user_texts
            ['a', 'c']
        """
        if self.conversation:
            return [t.content for t in self.conversation if t.role == "user"]
        return [self.instruction]

    @property
    def assistant_texts(self) -> list[str]:
        """The assistant-side texts: every assistant turn of a conversation, else the
        response.

        Example:
            >>> make_record("general", "q", "r").assistant_texts
            ['r']
        """
        if self.conversation:
            return [t.content for t in self.conversation if t.role == "assistant"]
        return [self.response]

    @property
    def dedup_text(self) -> str:
        """The text compared for duplicates: the instruction, or every user turn joined.

        Example:
            >>> make_record("general", "Name a river.", "Nile").dedup_text
            'Name a river.'
        """
        return "\n".join(self.user_texts)

    @property
    def exact_key(self) -> str:
        """Exact-duplicate key (case and whitespace of :attr:`dedup_text` ignored).

        Example:
            >>> make_record("g", "Hi  there", "a").exact_key == make_record("g", "hi there",
            ...     "b").exact_key
            True
        """
        return dedup_key(self.dedup_text)

    @property
    def content(self) -> dict[str, Any]:
        """The content fields (:data:`CONTENT_FIELDS`), turns as mappings.

        Example:
            >>> make_record("general", "a", "b").content["conversation"] is None
            True
        """
        return {
            "category": self.category,
            "instruction": self.instruction,
            "response": self.response,
            "system": self.system,
            "conversation": [t.as_dict() for t in self.conversation] if self.conversation else None,
            "skip_prompt_formatting": self.skip_prompt_formatting,
        }

    @property
    def content_hash(self) -> str:
        """A stable hash of :attr:`content`: the key curation verdicts are cached under.

        Example:
            >>> len(make_record("general", "a", "b").content_hash)
            32
        """
        blob = json.dumps(self.content, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    # ---- conversation for a chat template -----------------------------------------------
    def chat_messages(self) -> list[dict[str, str]]:
        """The record as role/content messages for a chat template: the stored turns of a
        multi-turn record (else its instruction and response), the ``system`` first unless
        the stored turns already open with one.

        Example:
            >>> make_record("g", "Hi", "Yo", system="Be brief.").chat_messages()[0]
            {'role': 'system', 'content': 'Be brief.'}
        """
        turns = self.conversation or (
            Turn("user", self.instruction),
            Turn("assistant", self.response),
        )
        messages = [t.as_dict() for t in turns]
        if self.system and turns[0].role != "system":
            messages.insert(0, {"role": "system", "content": self.system})
        return messages

    # ---- changed copies -----------------------------------------------------------------
    def replace(self, **changes: Any) -> Record:
        """A copy with some fields changed (the id stays, whatever changes).

        Example:
            >>> make_record("a", "q", "r").replace(category="b", response="s").category
            'b'
        """
        return dataclasses.replace(self, **changes)

    def with_meta(self, **values: Any) -> Record:
        """A copy with ``values`` added to ``meta``.

        Example:
            >>> make_record("g", "q", "a").with_meta(source="x").meta
            {'source': 'x'}
        """
        return self.replace(meta={**self.meta, **values})

    def with_system(self, system: str | None) -> Record:
        """A copy with another system prompt.

        Example:
            >>> make_record("g", "q", "a").with_system("S").system
            'S'
        """
        return self.replace(system=system)

    def with_category(self, category: str) -> Record:
        """A copy in another category.

        Example:
            >>> make_record("a", "q", "r").with_category("b").category
            'b'
        """
        return self.replace(category=category)

    def with_embedding(self, embedding: Any, key: str | None = None) -> Record:
        """A copy carrying a stored vector (and dedup key, when given)."""
        return self.replace(embedding=embedding, dedup_key=key or self.dedup_key)


def make_record(
    category: str = "general",
    instruction: str = "",
    response: str = "",
    *,
    system: str | None = None,
    conversation: Iterable[Turn | Mapping[str, Any]] | None = None,
    skip_prompt_formatting: bool = False,
    id: str | None = None,
    meta: Mapping[str, Any] | None = None,
    topic: str | None = None,
) -> Record:
    """A record whose id is derived from its content unless given (imports, tests).

    Example:
        >>> make_record("general", "q", "a").skip_prompt_formatting
        False
        >>> make_record(response="A card.").category
        'general'
    """
    turns = turns_of(conversation)
    text = json.dumps([t.as_dict() for t in turns], ensure_ascii=False) if turns else None
    rid = id or record_id(category, instruction, response, text)
    return Record(
        rid,
        category,
        instruction,
        response,
        system=system,
        conversation=turns,
        skip_prompt_formatting=skip_prompt_formatting,
        topic=topic,
        meta=dict(meta or {}),
    )
