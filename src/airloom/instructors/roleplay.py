"""``roleplay``: one-shot writing in the voice of a famous character.

One round = one call writing ``batch_size`` requests ("write a limerick as Winnie the
Pooh", ``TSK n.`` list) + one answer call per novel request (sent as is). Not to be
confused with ``rp``, the multi-turn, multi-character chats.

Example:
    >>> RoleplayInstructor.prompt_file
    'roleplay.txt'
"""

from __future__ import annotations

from airloom.instructors.engines import SimpleTaskInstructor

__all__ = ["RoleplayInstructor"]


class RoleplayInstructor(SimpleTaskInstructor):
    """Writing in a character's voice."""

    name = "roleplay"
    prompt_file = "roleplay.txt"
