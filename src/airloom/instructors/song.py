"""``song``: song-writing tasks answered with lyrics.

One round = one call writing ``batch_size`` tasks (``TSK n.`` list, varied styles and
task shapes) + one answer call per novel task (sent as is).

Example:
    >>> SongInstructor.prompt_file
    'song.txt'
"""

from __future__ import annotations

from airloom.instructors.engines import SimpleTaskInstructor

__all__ = ["SongInstructor"]


class SongInstructor(SimpleTaskInstructor):
    """Song lyrics."""

    name = "song"
    prompt_file = "song.txt"
