"""``card``: requests for attribute cards (creatures, places, objects…) with the cards.

One round = one call writing ``batch_size`` ``PROMPT:``/``ANSWER:`` pairs; a card must
give its attributes as ``key: value`` lines (:mod:`airloom.checks.card`), otherwise
it is rejected (``failed_check``).

Example:
    >>> CardInstructor.start_key, CardInstructor.end_key
    ('PROMPT', 'ANSWER')
"""

from __future__ import annotations

from airloom.checks import card as _checks  # noqa: F401  (registers the check)
from airloom.instructors.inline_pairs import CheckedInlineQAInstructor

__all__ = ["CardInstructor"]


class CardInstructor(CheckedInlineQAInstructor):
    """Attribute cards (see the module docstring)."""

    name = "card"
    prompt_file = "card.txt"
    start_key = "PROMPT"
