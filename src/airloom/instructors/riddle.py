"""``riddle``: tricky lateral-thinking riddles with their answers.

One round = one call writing ``batch_size`` ``QUESTION:``/``ANSWER:`` pairs; every
novel pair is one record (one unit).

Example:
    >>> RiddleInstructor.prompt_file, RiddleInstructor.start_key
    ('riddle.txt', 'QUESTION')
"""

from __future__ import annotations

from airloom.instructors.inline_pairs import CheckedInlineQAInstructor

__all__ = ["RiddleInstructor"]


class RiddleInstructor(CheckedInlineQAInstructor):
    """Tricky lateral-thinking riddles with their answers."""

    name = "riddle"
    prompt_file = "riddle.txt"
