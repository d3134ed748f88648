"""``orca``: step-by-step reasoning problems (math, logic, puzzles) with the work shown.

One round = one call writing ``batch_size`` ``QUESTION:``/``ANSWER:`` pairs; every
novel pair is one record (one unit).

Example:
    >>> OrcaInstructor.prompt_file, OrcaInstructor.start_key
    ('orca.txt', 'QUESTION')
"""

from __future__ import annotations

from airloom.instructors.inline_pairs import CheckedInlineQAInstructor

__all__ = ["OrcaInstructor"]


class OrcaInstructor(CheckedInlineQAInstructor):
    """Step-by-step reasoning problems with the work shown."""

    name = "orca"
    prompt_file = "orca.txt"
