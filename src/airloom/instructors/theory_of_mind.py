"""``theory_of_mind``: scenarios about what people believe, know or intend.

One round = one call writing ``batch_size`` QUESTION/ANSWER pairs (false beliefs,
hidden information, second-order beliefs …), the answer giving its conclusion and the
reasoning about each person's knowledge. Nothing here is checkable by code.

Example:
    >>> TheoryOfMindInstructor.prompt_file, TheoryOfMindInstructor.start_key
    ('theory_of_mind.txt', 'QUESTION')
"""

from __future__ import annotations

from airloom.instructors.engines import InlineQAInstructor

__all__ = ["TheoryOfMindInstructor"]


class TheoryOfMindInstructor(InlineQAInstructor):
    """Theory-of-mind questions and reasoned answers."""

    name = "theory_of_mind"
    prompt_file = "theory_of_mind.txt"
