"""Shared pieces of the character-based categories (character, rp, stylized_response,
gtkm, awareness, inline_actions, introspection).

* :class:`Card` — a character card as stored by the ``character`` instructor (a record
  whose ``meta["card"]`` holds ``name``, ``description`` and ``stay_in_character``);
  :func:`load_cards` reads them back through ``ctx.source_records(["character"])``.
* :func:`group_fields` — the tolerant ``KEY: value`` block parser every category here
  uses (cards, gtkm questions, awareness blocks, introspection answers).
* Transcript helpers: speaker prefixes, marker cuts, merging turns so that a session
  alternates strictly, and the pre-formatted 2.x form of a session
  (:func:`session_draft`).

Example:
    >>> fields = group_fields("DESCRIPTION: A baker.\\nNAME: Ann\\nGUIDE: Be Ann.",
    ...                       ["DESCRIPTION", "NAME", "GUIDE"])
    >>> fields[0]["NAME"]
    'Ann'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airloom.formats.fences import strip_fence_lines
from airloom.formats.records import Record
from airloom.formats.transcripts import formatted_transcript as formatted_transcript
from airloom.formats.transcripts import merge_turns as merge_turns
from airloom.formats.transcripts import session_text as session_text
from airloom.instructors.base import Draft, RoundContext, SourceExhausted, Turn
from airloom.reasons import Reason

__all__ = [
    "CHARACTER_CATEGORY",
    "IN_CHARACTER_RULES",
    "Card",
    "cards_from_records",
    "chat_between_system",
    "clean_value",
    "cut_at_markers",
    "formatted_transcript",
    "group_fields",
    "load_cards",
    "merge_turns",
    "session_draft",
    "session_text",
    "stable_id",
    "straight_quotes",
    "strip_speaker",
]

CHARACTER_CATEGORY = "character"

#: Rules every in-character answer is written under (paraphrase of the original's).
IN_CHARACTER_RULES = (
    "Rules for your reply: never break character and never mention that you are role-playing; "
    "do not start with 'Certainly', 'Sure' or 'Of course'; answer only with knowledge this "
    "character would realistically have in their time and place; do not add warnings or "
    "disclaimers (if one is truly unavoidable, put it at the very end after a line "
    "'REMINDER:')."
)

_AI_CARD = re.compile(r"\b(?:AI|artificial intelligence)[,. ]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Card:
    """A character card: name, description and the stay-in-character guide."""

    name: str
    description: str
    guide: str
    id: str = ""

    def to_meta(self) -> dict[str, str]:
        """The card as stored in a record's ``meta["card"]``.

        Example:
            >>> Card("Ann", "A baker.", "Stay Ann.").to_meta()["stay_in_character"]
            'Stay Ann.'
        """
        return {"name": self.name, "description": self.description, "stay_in_character": self.guide}

    @classmethod
    def from_record(cls, record: Record) -> Card | None:
        """The card of a stored ``character`` record, or None when it holds none.

        Example:
            >>> from airloom.formats.records import make_record
            >>> Card.from_record(make_record("character", "", "", meta={"card": {"name": "Ann",
            ...     "description": "A baker.", "stay_in_character": "Be Ann."}})).name
            'Ann'
            >>> Card.from_record(make_record("character", "", "")) is None
            True
        """
        card = record.meta.get("card")
        if not isinstance(card, Mapping):
            return None
        name = str(card.get("name", "")).strip()
        description = str(card.get("description", "")).strip()
        if not name or not description:
            return None
        guide = str(card.get("stay_in_character", "")).strip()
        return cls(name, description, guide, record.id)

    @property
    def is_ai(self) -> bool:
        """Whether the description says the character is an AI.

        Example:
            >>> Card("Zed", "Zed is an AI, built to help.", "").is_ai
            True
            >>> Card("Ann", "Ann bakes bread in Paris.", "").is_ai
            False
        """
        return bool(_AI_CARD.search(self.description + " "))

    def persona(self) -> str:
        """The system text that makes a model play this character.

        Example:
            >>> Card("Ann", "A baker.", "Always answer as Ann.").persona().splitlines()[0]
            'You are Ann.'
        """
        parts = [f"You are {self.name}.", self.description]
        if self.guide:
            parts.append(self.guide)
        return "\n\n".join(parts)


def chat_between_system(card: Card, other: str) -> str:
    """The training system prompt of a two-person chat with a character.

    Example:
        >>> chat_between_system(Card("Ann", "A baker.", "Stay Ann."), "Bo").splitlines()[0]
        'A chat between Ann and Bo.'
    """
    text = f"A chat between {card.name} and {other}.\nDescription of {card.name}:\n"
    text += card.description
    return f"{text}\n\n{card.guide}" if card.guide else text


def cards_from_records(records: Iterable[Record]) -> list[Card]:
    """Every usable card among stored records, one per name (first wins), in order.

    Example:
        >>> from airloom.formats.records import make_record
        >>> rec = make_record("character", "", "", meta={"card": {"name": "Ann",
        ...     "description": "A baker."}})
        >>> [c.name for c in cards_from_records([rec, rec])]
        ['Ann']
    """
    cards: list[Card] = []
    seen: set[str] = set()
    for record in records:
        card = Card.from_record(record)
        if card is not None and card.name.casefold() not in seen:
            seen.add(card.name.casefold())
            cards.append(card)
    return cards


async def load_cards(ctx: RoundContext, minimum: int = 1) -> list[Card]:
    """The stored character cards; fewer than ``minimum`` ends the instructor cleanly.

    Raises :class:`SourceExhausted` (reason ``no_cards``) so the engine stops launching
    rounds instead of looping without cards.
    """
    cards = cards_from_records(await ctx.source_records([CHARACTER_CATEGORY]))
    if len(cards) < minimum:
        raise SourceExhausted(
            Reason.NO_CARDS,
            f"{len(cards)} character card(s) in the store, {minimum} needed: enable the "
            "character instructor (count > 0) or resume a store that holds cards",
        )
    return cards


# ------------------------------------------------------------------ field parsing

_DECOR = r"(?:\*\*|__|\*)?"


def _field_pattern(keys: Sequence[str]) -> re.Pattern[str]:
    # "NAME:", "**NAME:**", "### NAME 2:", "1. NAME:", "- NAME -:" drift, one per line start.
    alternatives = "|".join(
        r"[ _]?".join(re.escape(word) for word in _split_key(key))
        for key in sorted(keys, key=len, reverse=True)
    )
    return re.compile(
        rf"^[ \t]*(?:[-*#>]+[ \t]*|\d{{1,3}}[.)][ \t]*)?{_DECOR}(?P<key>{alternatives})"
        rf"(?:[ \t]*\d{{1,3}})?[ \t]*{_DECOR}[ \t]*:{_DECOR}[ \t]*",
        re.MULTILINE | re.IGNORECASE,
    )


def _split_key(key: str) -> list[str]:
    """``CONTEXTUALANSWER`` may be written ``CONTEXTUAL ANSWER``: split known compounds."""
    return [part for part in re.split(r"[ _]", key) if part]


def _canonical(found: str, keys: Sequence[str]) -> str:
    squashed = re.sub(r"[ _]", "", found).upper()
    for key in keys:
        if re.sub(r"[ _]", "", key).upper() == squashed:
            return key
    return found.upper()


def clean_value(text: str) -> str:
    """Strip a field value: whitespace, code fences, markdown emphasis and separators.

    Example:
        >>> clean_value("  **Ann Lee**  \\n---\\n")
        'Ann Lee'
    """
    text = strip_fence_lines(text)
    text = re.sub(r"(?m)^[ \t]*(?:-{3,}|\*{3,}|={3,})[ \t]*$", "", text).strip()
    return re.sub(r"^(?:\*\*|__)(.*?)(?:\*\*|__)$", r"\1", text, flags=re.DOTALL).strip()


def group_fields(text: str, keys: Sequence[str]) -> list[dict[str, str]]:
    """Split ``KEY: value`` fields into groups; a group ends when a key repeats.

    Values run until the next field marker (multi-line values allowed). Keys are
    matched case-insensitively at line starts, tolerating markdown, numbering and
    ``KEY 2:`` drift; text before the first marker is ignored. Missing keys are simply
    absent from a group (the caller decides what is required).

    Example:
        >>> group_fields("Sure!\\nQUESTION: Why?\\nQUESTION 2: How?", ["QUESTION"])
        [{'QUESTION': 'Why?'}, {'QUESTION': 'How?'}]
        >>> group_fields("NAME: B\\nDESCRIPTION: b\\nDESCRIPTION: c", ["NAME", "DESCRIPTION"])
        [{'NAME': 'B', 'DESCRIPTION': 'b'}, {'DESCRIPTION': 'c'}]
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    matches = list(_field_pattern(keys).finditer(text))
    groups: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for index, match in enumerate(matches):
        key = _canonical(match.group("key"), keys)
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = clean_value(text[match.end() : end])
        if key in current:
            groups.append(current)
            current = {}
        current[key] = value
    if current:
        groups.append(current)
    return groups


# ------------------------------------------------------------------ transcripts


def cut_at_markers(text: str, markers: Sequence[str] = ("REMINDER:", "RULES:")) -> str:
    """Drop everything from the first marker on (disclaimers, echoed rules).

    Example:
        >>> cut_at_markers("Hello there.\\nREMINDER: this is fiction.")
        'Hello there.'
    """
    cut = len(text)
    for marker in markers:
        index = text.find(marker)
        if index >= 0:
            cut = min(cut, index)
    return text[:cut].strip()


def strip_speaker(text: str, name: str) -> str:
    """Remove a leading ``Name:`` (or ``**Name:**``) the model put before its own line.

    Example:
        >>> strip_speaker("**Ann:** Hello.", "Ann")
        'Hello.'
    """
    pattern = rf"^\s*{_DECOR}{re.escape(name)}{_DECOR}\s*:{_DECOR}\s*"
    return re.sub(pattern, "", text, count=1, flags=re.IGNORECASE).strip()


_QUOTES = str.maketrans(dict.fromkeys("\u201c\u201d", '"') | dict.fromkeys("\u2018\u2019", "'"))


def straight_quotes(text: str) -> str:
    """Curly quotes to straight ones.

    Example:
        >>> straight_quotes("\u201cHi\u201d, it\u2019s me")
        '"Hi", it\\'s me'
    """
    return text.translate(_QUOTES)


def stable_id(*parts: str) -> str:
    """A short stable hash of some strings (units, ids).

    Example:
        >>> stable_id("a", "b") == stable_id("a", "b") != stable_id("ab")
        True
    """
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def session_draft(
    system: str,
    turns: Sequence[Turn],
    *,
    meta: dict[str, Any],
    dedup_text: str | None = None,
) -> Draft:
    """One record holding a whole session: ``conversation`` turns (ShareGPT export) and
    the pre-formatted transcript with ``skip_prompt_formatting`` (2.x export). One
    record is one counted unit, accepted or rejected as a whole.

    Example:
        >>> d = session_draft("A chat.", [Turn("user", "Bo: hi"),
        ...                   Turn("assistant", "Al: yo")], meta={})
        >>> d.skip_prompt_formatting, d.response, len(d.conversation)
        (True, 'Al: yo', 2)
    """
    merged = merge_turns(turns)
    instruction, response = formatted_transcript(system, merged)
    return Draft(
        instruction=instruction,
        response=response,
        system=system,
        conversation=tuple(merged),
        skip_prompt_formatting=True,
        dedup_text=dedup_text if dedup_text is not None else session_text(merged),
        meta=meta,
    )
