"""``inline_qa``: question/answer pairs on random topics, written by one call.

The cheapest general-knowledge category: one round = one call writing
``batch_size`` ``QUESTION:``/``ANSWER:`` pairs, one per topic, and nothing else is
called (unlike ``general``, which answers every task with its own call). A custom
``prompt_path`` can reuse it for any inline question/answer data set.

Example:
    >>> InlineQAPairsInstructor.uses_topics, InlineQAPairsInstructor.prompt_file
    (True, 'inline_qa.txt')
"""

from __future__ import annotations

from airloom.instructors.inline_pairs import CheckedInlineQAInstructor

__all__ = ["InlineQAPairsInstructor"]


class InlineQAPairsInstructor(CheckedInlineQAInstructor):
    """Topical question/answer pairs written inline."""

    name = "inline_qa"
    prompt_file = "inline_qa.txt"
    uses_topics = True
