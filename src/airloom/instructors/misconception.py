"""``misconception``: questions whose popular answer is a misconception, with the correction.

One round = one call writing ``batch_size`` ``QUESTION:``/``ANSWER:`` pairs; every
novel pair is one record (one unit).

Example:
    >>> MisconceptionInstructor.prompt_file, MisconceptionInstructor.start_key
    ('misconception.txt', 'QUESTION')
"""

from __future__ import annotations

from airloom.instructors.inline_pairs import CheckedInlineQAInstructor

__all__ = ["MisconceptionInstructor"]


class MisconceptionInstructor(CheckedInlineQAInstructor):
    """Questions whose popular answer is a misconception, with the correction."""

    name = "misconception"
    prompt_file = "misconception.txt"
