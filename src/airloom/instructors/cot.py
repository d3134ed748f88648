"""``cot``: questions answered with several solutions, a ranking and a final choice.

One round = one call writing ``batch_size`` questions (``TSK n.`` list, each asking for
several solutions, a ranking and the best answer) + one call per novel question, whose
answer must have exactly the seed cards' layout (``Solution k:`` … ``Final answer:``,
``Ranking of solutions from best to worst:``, ``Best and final answer:``). Markdown around
the labels is removed; an answer the runtime parser cannot read, or one that is
inconsistent (ranking omits a solution, best answer differs from the top-ranked one,
fewer than two solutions), is rejected with the reason (``check_ranked_solutions``).

Example:
    >>> CotInstructor.prompt_file, CotInstructor.response_file
    ('cot.txt', 'cot_response.txt')
"""

from __future__ import annotations

from airloom.checks.solutions import canonical_layout
from airloom.instructors.base import Draft
from airloom.instructors.checked import enforce
from airloom.instructors.engines import SimpleTaskInstructor

__all__ = ["CotInstructor"]


class CotInstructor(SimpleTaskInstructor):
    """Chain of thought: ranked solutions and a best and final answer."""

    name = "cot"
    prompt_file = "cot.txt"
    response_file = "cot_response.txt"
    filter_responses = False

    def make_draft(self, task: str, response: str, topic: str | None) -> Draft:
        """Normalise the labels, then keep the answer only if it has the exact layout."""
        draft = Draft(instruction=task, response=canonical_layout(response), topic=topic)
        return enforce(self.name, draft)
