"""Records ↔ published rows, in one place: every export row shape and every import shape.

Rows written (each re-imports to the same record content):

* :func:`airoboros_row` — the 2.x row: ``instruction``, ``response``, ``category``, and
  ``system`` / ``skip_prompt_formatting`` when set; a multi-turn record also carries its
  turns in ``conversation`` (role/content);
* :func:`sharegpt_row` — the 3.x object: ``id``, ``category``, ``conversations``
  (``system``, ``human``, ``gpt`` turns), ``skip_prompt_formatting`` when set, and
  ``instruction`` / ``response`` when a multi-turn record's flat form is not its first
  user and last assistant turn (pre-formatted sessions);
* :func:`table_row` — either shape with every column present (parquet, datasets);
* :func:`training_text` — the text a chat template makes of a record.

Rows read (:func:`record_from_row`): 2.x rows, ShareGPT ``conversations`` of
``from``/``value`` turns or ``messages`` of ``role``/``content`` turns; unknown fields
are kept in ``meta["fields"]``.

Example:
    >>> from airloom.formats.records import make_record
    >>> record = make_record("general", "Hi?", "Hello.", skip_prompt_formatting=True)
    >>> airoboros_row(record)
    {'instruction': 'Hi?', 'response': 'Hello.', 'category': 'general', \
'skip_prompt_formatting': True}
    >>> record_from_row(sharegpt_row(record)) == record
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airloom.errors import AirloomError, ConfigError
from airloom.formats.chat import render, split_system
from airloom.formats.records import Record, Turn, make_record

__all__ = [
    "SCHEMAS",
    "RowError",
    "airoboros_row",
    "record_from_row",
    "sharegpt_row",
    "table_row",
    "training_text",
]

#: Row shapes of tables (parquet, Hugging Face datasets, the Hub).
SCHEMAS = ("sharegpt", "airoboros")

_ROLE_TO_SHAREGPT = {"system": "system", "user": "human", "assistant": "gpt"}
_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "bot": "assistant",
}
_KNOWN_FIELDS = {
    "id",
    "category",
    "instruction",
    "response",
    "system",
    "skip_prompt_formatting",
    "conversation",
    "conversations",
    "messages",
}


class RowError(AirloomError):
    """One row of a dataset file cannot be read as a record."""


# ---- record → rows ----------------------------------------------------------------------
def airoboros_row(record: Record, *, full: bool = False) -> dict[str, Any]:
    """The 2.x row; ``full`` gives every column (None/False) as tables need.

    Example:
        >>> from airloom.formats.records import make_record
        >>> airoboros_row(make_record("c", "a", "b"), full=True)
        {'instruction': 'a', 'response': 'b', 'category': 'c', 'system': None, \
'skip_prompt_formatting': False, 'conversation': None}
    """
    row: dict[str, Any] = {
        "instruction": record.instruction,
        "response": record.response,
        "category": record.category,
    }
    turns = [t.as_dict() for t in record.conversation] if record.conversation else None
    if full or record.system:
        row["system"] = record.system
    if full or record.skip_prompt_formatting:
        row["skip_prompt_formatting"] = record.skip_prompt_formatting
    if full or turns:
        row["conversation"] = turns
    return row


def _flat_is_derived(record: Record) -> bool:
    """True when the instruction and response are the first user and last assistant turn
    of the conversation (what reading the ShareGPT object back gives)."""
    turns = record.conversation
    if not turns or len(turns) < 3:
        return turns is None
    return (turns[0].content, turns[-1].content) == (record.instruction, record.response)


def sharegpt_row(record: Record, *, full: bool = False) -> dict[str, Any]:
    """The ShareGPT object (see the module docstring); ``full`` gives every column.

    Example:
        >>> from airloom.formats.records import make_record
        >>> [t["from"] for t in sharegpt_row(make_record("g", "q", "a"))["conversations"]]
        ['human', 'gpt']
    """
    conversations = [
        {"from": _ROLE_TO_SHAREGPT.get(m["role"], m["role"]), "value": m["content"]}
        for m in record.chat_messages()
    ]
    row: dict[str, Any] = {
        "id": record.id,
        "category": record.category,
        "conversations": conversations,
    }
    if full or record.skip_prompt_formatting:
        row["skip_prompt_formatting"] = record.skip_prompt_formatting
    derived = _flat_is_derived(record)
    if full or not derived:
        row["instruction"] = None if derived else record.instruction
        row["response"] = None if derived else record.response
    return row


def table_row(record: Record, schema: str) -> dict[str, Any]:
    """A row of a table in ``schema`` (:data:`SCHEMAS`), every column present.

    Example:
        >>> from airloom.formats.records import make_record
        >>> sorted(table_row(make_record("g", "q", "a"), "sharegpt"))
        ['category', 'conversations', 'id', 'instruction', 'response', 'skip_prompt_formatting']
    """
    if schema == "sharegpt":
        return sharegpt_row(record, full=True)
    if schema == "airoboros":
        return airoboros_row(record, full=True)
    raise ConfigError(f"unknown row schema '{schema}'", hint=f"use one of {SCHEMAS}")


def training_text(record: Record, template: str) -> str:
    """A record as one training text in a chat format of :mod:`airloom.formats.chat`; a
    ``skip_prompt_formatting`` record is taken as already formatted: its instruction, a
    newline, its response.

    Example:
        >>> from airloom.formats.records import make_record
        >>> training_text(make_record("g", "Hi?", "Hello."), "airoboros-2.2")
        'A chat.\\nUSER: Hi?\\nASSISTANT: Hello.</s>'
        >>> training_text(make_record("g", "USER: hi\\nASSISTANT: ", "yo",
        ...               skip_prompt_formatting=True), "llama-2")
        'USER: hi\\nASSISTANT:\\nyo'
    """
    if record.skip_prompt_formatting:
        return f"{record.instruction.strip()}\n{record.response.strip()}"
    system, turns = split_system(record.chat_messages())
    return render(template, system, turns, add_generation_prompt=False)


# ---- rows → record ----------------------------------------------------------------------
def _turns(raw: Any, name: str) -> list[Turn]:
    if not isinstance(raw, list) or not raw:
        raise RowError(f"'{name}' must be a non-empty list of turns")
    turns = []
    for position, turn in enumerate(raw, start=1):
        if not isinstance(turn, Mapping):
            raise RowError(f"turn {position} is not an object")
        speaker = turn.get("from", turn.get("role"))
        text = turn.get("value", turn.get("content"))
        role = _ROLES.get(str(speaker).lower()) if speaker is not None else None
        if role is None or not isinstance(text, str):
            raise RowError(f"turn {position} has an unknown speaker {speaker!r} or no text")
        turns.append(Turn(role, text))
    return turns


def _text(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    return value if isinstance(value, str) else None


def _record(row: Mapping[str, Any], instruction: str, response: str, **content: Any) -> Record:
    row_id = row.get("id")
    extra = {k: v for k, v in row.items() if k not in _KNOWN_FIELDS}
    return make_record(
        str(row.get("category") or "general"),
        instruction,
        response,
        skip_prompt_formatting=bool(row.get("skip_prompt_formatting")),
        id=str(row_id) if row_id not in (None, "") else None,
        meta={"fields": extra} if extra else {},
        **content,
    )


def _from_conversation(row: Mapping[str, Any], raw: Any, name: str) -> Record:
    turns = _turns(raw, name)
    system = turns.pop(0).content if turns[0].role == "system" else None
    for index, turn in enumerate(turns):
        expected = "user" if index % 2 == 0 else "assistant"
        if turn.role != expected:
            raise RowError(f"turn {index + 1} after the system turn should be {expected}")
    if len(turns) < 2 or turns[-1].role != "assistant":
        raise RowError("a conversation needs a human turn and must end with a gpt turn")
    instruction, response = _text(row, "instruction"), _text(row, "response")
    if instruction is not None and response is not None:  # a pre-formatted session
        return _record(row, instruction, response, system=system, conversation=turns)
    conversation = turns if len(turns) > 2 else None
    return _record(
        row, turns[0].content, turns[-1].content, system=system, conversation=conversation
    )


def record_from_row(row: Any) -> Record:
    """One published row (2.x or ShareGPT) as a record; :class:`RowError` if it is neither.

    Example:
        >>> row = {"id": "x1", "category": "trivia", "conversations": [
        ...     {"from": "system", "value": "Be brief."},
        ...     {"from": "human", "value": "Capital of Peru?"},
        ...     {"from": "gpt", "value": "Lima."}]}
        >>> record = record_from_row(row)
        >>> record.id, record.system, record.instruction, record.conversation
        ('x1', 'Be brief.', 'Capital of Peru?', None)
    """
    if not isinstance(row, Mapping):
        raise RowError(f"a row must be a JSON object, not {type(row).__name__}")
    for key in ("conversations", "messages"):
        if row.get(key) is not None:
            return _from_conversation(row, row[key], key)
    instruction, response = _text(row, "instruction"), _text(row, "response")
    if instruction is None or response is None:
        raise RowError("a row needs 'instruction' and 'response' strings or 'conversations'")
    raw = row.get("conversation")
    return _record(
        row,
        instruction,
        response,
        system=_text(row, "system"),
        conversation=_turns(raw, "conversation") if raw is not None else None,
    )
