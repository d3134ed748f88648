"""Inline character actions: every ``<|begin_func|>…<|end_func|>`` call is well formed.

Each assistant text of an ``inline_actions`` record is parsed with the runtime's own
parser (:mod:`airloom.runtime.actions`). Every segment must be a JSON object naming a
function with its parameters, with both markers present; when the record carries its
character card (``meta["card"]`` with ``functions`` and ``objects_available``), each
call must also name one of the card's functions with valid arguments and only objects
that are in the scene.

Example:
    >>> record = {"response": 'She nods. <|begin_func|>{"name": "wave", '
    ...           '"parameters": {}}<|end_func|>', "meta": {}}
    >>> check_inline_actions(record)
    Verdict(ok=True, reason='')
    >>> check_inline_actions({"response": "<|begin_func|>{oops<|end_func|>", "meta": {}}).ok
    False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airloom.checks import Verdict, register
from airloom.errors import AirloomError
from airloom.runtime.actions import ActionErrorEvent, CharacterCard, parse_actions


def _texts(record: Mapping[str, Any]) -> list[str]:
    turns = record.get("conversation")
    if turns:
        return [str(t["content"]) for t in turns if t.get("role") == "assistant"]
    return [str(record.get("response") or "")]


def _card(record: Mapping[str, Any]) -> CharacterCard | None:
    meta = record.get("meta") or {}
    card = meta.get("card") or meta.get("character_card")
    if not isinstance(card, Mapping):
        return None
    return CharacterCard.from_dict(card)


@register("inline_actions")
def check_inline_actions(record: Mapping[str, Any]) -> Verdict:
    """Pass when every action segment parses (and fits the card, when there is one)."""
    try:
        card = _card(record)
    except AirloomError as exc:
        return Verdict.failed(f"the character card is invalid: {exc.message}")
    for turn, text in enumerate(_texts(record), start=1):
        for event in parse_actions(text, card):
            if isinstance(event, ActionErrorEvent):
                detail = f" ({'; '.join(event.problems)})" if event.problems else ""
                return Verdict.failed(f"assistant turn {turn}: {event.reason}{detail}")
    return Verdict.passed()
