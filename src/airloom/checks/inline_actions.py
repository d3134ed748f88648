"""Check of inline character action sessions (``inline_actions``).

Every ``<|begin_func|>`` call in an assistant turn must be valid for the card in
``meta["card"]`` (its ``functions`` and ``objects_available``), validated by the
runtime (:func:`airloom.runtime.actions.parse_actions`); a function-response turn
(``<|begin_func_response|>`` blocks) must follow an assistant turn that acted, with
one block per call; a session must contain at least one valid call.

Example:
    >>> from airloom.formats.records import make_record
    >>> card = {"functions": [{"name": "scan", "parameters": {}}]}
    >>> turns = [{"role": "user", "content": "Look around."},
    ...          {"role": "assistant",
    ...           "content": 'Sure. <|begin_func|>{"name": "scan", "parameters": {}}<|end_func|>'}]
    >>> check_inline_actions(make_record(meta={"card": card}, conversation=turns)).ok
    True
    >>> turns[1]["content"] = '<|begin_func|>{"name": "fly", "parameters": {}}<|end_func|>'
    >>> check_inline_actions(make_record(meta={"card": card}, conversation=turns)).reason
    "turn 1: unknown function 'fly' ($.function: 'fly' is not one of the listed functions (scan))"
"""

from __future__ import annotations

from collections.abc import Mapping

from airloom.checks import Verdict
from airloom.errors import AirloomError
from airloom.formats.records import Record, Turn
from airloom.runtime.actions import (
    BEGIN_RESPONSE,
    ActionErrorEvent,
    ActionEvent,
    CharacterCard,
    parse_actions,
)

__all__ = ["check_inline_actions"]


def _card(record: Record) -> CharacterCard | str | None:
    meta = record.meta
    data = meta.get("card") or meta.get("character_card")
    if not isinstance(data, Mapping):
        return None  # e.g. an imported record: the calls are still checked for shape
    try:
        return CharacterCard.from_dict(data)
    except AirloomError as exc:
        return f"the card's functions are invalid: {exc.message}"


def _turns(record: Record) -> tuple[Turn, ...]:
    return record.conversation or (Turn("assistant", record.response),)


def check_inline_actions(record: Record) -> Verdict:
    """Calls valid for the card (or well formed when the record has no card), response
    turns matching the calls, at least one call."""
    card = _card(record)
    if isinstance(card, str):
        return Verdict.failed(card)
    total = 0
    pending = 0
    for index, turn in enumerate(_turns(record)):
        content = turn.content
        if turn.role == "assistant":
            events = parse_actions(content, card)
            for event in events:
                if isinstance(event, ActionErrorEvent):
                    why = "; ".join(event.problems) or event.raw[:80]
                    return Verdict.failed(f"turn {index}: {event.reason} ({why})")
            pending = sum(isinstance(event, ActionEvent) for event in events)
            total += pending
        elif turn.role == "user":
            blocks = content.count(BEGIN_RESPONSE)
            if blocks and blocks != pending:
                return Verdict.failed(
                    f"turn {index}: {blocks} function responses for {pending} calls"
                )
            pending = 0
    if not total:
        return Verdict.failed("no valid action in the session")
    return Verdict.passed()
