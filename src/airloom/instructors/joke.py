"""``joke``: joke requests with their jokes.

One round = one call writing ``batch_size`` ``QUESTION:``/``ANSWER:`` pairs; every
novel pair is one record (one unit).

Example:
    >>> JokeInstructor.prompt_file, JokeInstructor.start_key
    ('joke.txt', 'QUESTION')
"""

from __future__ import annotations

from airloom.instructors.inline_pairs import CheckedInlineQAInstructor

__all__ = ["JokeInstructor"]


class JokeInstructor(CheckedInlineQAInstructor):
    """Joke requests with their jokes."""

    name = "joke"
    prompt_file = "joke.txt"
