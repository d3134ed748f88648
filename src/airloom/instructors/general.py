"""``general``: diverse non-code, non-math tasks, each answered by a separate call.

One round = one generation call asking for ``batch_size`` tasks (``TSK n.`` list, one
topic per task) + one response call per novel task.

Example:
    >>> GeneralInstructor.prompt_file, GeneralInstructor.topic_label
    ('general.txt', 'instruction')
"""

from __future__ import annotations

from airloom.instructors.engines import SimpleTaskInstructor

__all__ = ["GeneralInstructor"]


class GeneralInstructor(SimpleTaskInstructor):
    """General tasks on random topics."""

    name = "general"
    uses_topics = True
    prompt_file = "general.txt"
    topic_label = "instruction"
