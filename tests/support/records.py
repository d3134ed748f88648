"""Records for tests: keyword fields in, a :class:`Record` out; and one realistic record
per registered instructor category, made the way generation makes them (a draft
converted by :meth:`Draft.to_record`)."""

from __future__ import annotations

from typing import Any

from airloom.checks.sessions import SESSION_CATEGORIES
from airloom.formats.records import Provenance, Record, Turn, make_record
from airloom.instructors.base import Draft
from airloom.instructors.characters import formatted_transcript
from airloom.instructors.registry import available_instructors

#: Text that trips naive encoders: accents, CJK, emoji, quotes, backslashes, a tab, the
#: JSON-sensitive line separator and a code fence.
UNICODE = 'Ünïcode ✓ — 漢字 🙂 "quoted" \\path\\ tab\there \u2028 ```py\nx = 1\n```'


def record_of(**fields: Any) -> Record:
    """A record from the fields a test names (``category`` defaults to general; a
    ``created_at`` goes to the provenance, as the store keeps it)."""
    created_at = fields.pop("created_at", None)
    record = make_record(**fields)
    if created_at is None:
        return record
    return record.replace(provenance=Provenance(created_at=float(created_at)))


def _session(category: str, index: int, exchanges: int) -> Draft:
    """A pre-formatted chat session, as the character-based instructors store one."""
    system = f"A chat between Ann and Bo ({category}). {UNICODE}"
    turns: list[Turn] = []
    for n in range(exchanges):
        turns += [Turn("user", f"Bo: question {n} {UNICODE}"), Turn("assistant", f"Ann: {n} ✓")]
    instruction, response = formatted_transcript(system, turns)
    return Draft(
        instruction,
        response,
        system=system,
        conversation=tuple(turns),
        skip_prompt_formatting=True,
        unit=f"session-{index}",
        meta={"participants": ["Ann", "Bo"]},
    )


def _rules(index: int) -> Draft:
    """A multi-turn record whose flat instruction is not its first turn (rules)."""
    turns = (
        Turn("user", "Follow these rules; answer OK."),
        Turn("assistant", "OK"),
        Turn("user", f"Describe a kite. {UNICODE}"),
        Turn("assistant", "a kite dances on the wind"),
    )
    return Draft(
        "Follow these rules; answer OK.\n\nDescribe a kite.",
        turns[-1].content,
        system="You follow rules.",
        conversation=turns,
        meta={"rules": [["lowercase", ""]]},
        unit=f"rules-{index}",
    )


def _single(category: str, index: int) -> Draft:
    """A single-turn record; every third carries a system prompt, every fourth is
    pre-formatted."""
    return Draft(
        f"{category} task {index}: {UNICODE}",
        f"{category} answer {index}\n\nwith two paragraphs ✓",
        system=f"You are terse. {UNICODE}" if index % 3 == 0 else None,
        skip_prompt_formatting=index % 4 == 3,
        topic=f"topic {index} ✓",
        meta={"variant": "plain", "nested": {"numbers": [1, 2.5], "text": UNICODE}},
    )


def draft_for(category: str, index: int) -> Draft:
    """The draft one instructor of ``category`` would hand the engine."""
    if category in SESSION_CATEGORIES:
        return _session(category, index, exchanges=1 if category == "gtkm" else 3)
    if category == "rules":
        return _rules(index)
    return _single(category, index)


def one_record_per_category(categories: list[str] | None = None) -> list[Record]:
    """One record per registered instructor category (or per given one), with the
    provenance the engine records.

    Example:
        >>> records = one_record_per_category(["rp", "general"])
        >>> [(r.category, r.skip_prompt_formatting, bool(r.conversation)) for r in records]
        [('rp', True, True), ('general', False, False)]
    """
    names = categories if categories is not None else sorted(available_instructors())
    return [
        draft_for(category, index).to_record(
            category,
            provenance=Provenance(
                instructor=category,
                model="teacher ✓",
                endpoint="http://127.0.0.1:9/v1",
                params={"temperature": 0.7},
                template_hash="abc123",
                seed=7,
                run_id="run-1",
                round_key=f"{category}:{index}",
                created_at=1_700_000_000.5 + index,
            ),
        )
        for index, category in enumerate(names)
    ]
