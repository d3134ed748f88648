"""Checks of multi-turn sessions and character cards (rp, gtkm, inline_actions,
introspection, character).

A session record must hold ``conversation`` turns that start with a user turn, then
alternate user/assistant, end with an assistant turn and contain no empty turn; its
2.x form (``instruction``/``response`` with ``skip_prompt_formatting``) must be the
pre-formatted transcript of exactly those turns. A card record must carry a usable
card in ``meta["card"]``.

Example:
    >>> from airloom.formats.records import make_record
    >>> record = make_record(system="A chat.", skip_prompt_formatting=True,
    ...           conversation=[{"role": "user", "content": "Bo: hi"},
    ...                            {"role": "assistant", "content": "Al: yo"}],
    ...           instruction="A chat.\\nBo: hi\\n", response="Al: yo")
    >>> check_session(record).ok
    True
"""

from __future__ import annotations

from collections.abc import Mapping

from airloom.checks import Verdict
from airloom.formats.records import Record
from airloom.formats.transcripts import formatted_transcript

__all__ = ["SESSION_CATEGORIES", "check_card", "check_session"]

SESSION_CATEGORIES = ("rp", "gtkm", "inline_actions", "introspection")


def check_session(record: Record) -> Verdict:
    """Alternating user/assistant turns and a matching 2.x transcript."""
    turns = record.conversation or ()
    if not turns:
        # A flat row (2.x export or import) is one exchange; a pre-formatted transcript
        # in it cannot be split back into turns reliably, so only emptiness is checked.
        if not record.instruction.strip():
            return Verdict.failed("a session record has neither turns nor an instruction")
        if not record.response.strip():
            return Verdict.failed("a session record has an empty response")
        return Verdict.passed()
    for index, turn in enumerate(turns):
        expected = "user" if index % 2 == 0 else "assistant"
        if turn.role != expected:
            return Verdict.failed(f"turn {index} is {turn.role!r}, expected {expected}")
        if not turn.content.strip():
            return Verdict.failed(f"turn {index} is empty")
    if turns[-1].role != "assistant":
        return Verdict.failed("the session does not end with an assistant turn")
    if record.skip_prompt_formatting:
        instruction, response = formatted_transcript(record.system or "", turns)
        if record.instruction != instruction or record.response != response:
            return Verdict.failed("the pre-formatted transcript does not match the turns")
    return Verdict.passed()


def check_card(record: Record) -> Verdict:
    """A card with a one-line name, a description and a stay-in-character guide.

    Example:
        >>> from airloom.formats.records import make_record
        >>> check_card(make_record(meta={"card": {"name": "Ann", "description": "A baker.",
        ...     "stay_in_character": "Stay Ann."}})).ok
        True
        >>> check_card(make_record(meta={})).reason
        'no card in meta'
    """
    card = record.meta.get("card")
    if not isinstance(card, Mapping):
        return Verdict.failed("no card in meta")
    name = str(card.get("name", "")).strip()
    if not name or "\n" in name:
        return Verdict.failed("the card's name is empty or not one line")
    for key in ("description", "stay_in_character"):
        if not str(card.get(key, "")).strip():
            return Verdict.failed(f"the card has no {key}")
    return Verdict.passed()
