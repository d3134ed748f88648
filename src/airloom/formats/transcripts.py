"""Multi-turn sessions as text (pure): the turns of a record, their 2.x pre-formatted
transcript (``skip_prompt_formatting`` rows), and the text the dedup gate compares.

Example:
    >>> turns = merge_turns([Turn("user", "Bo: hi"), Turn("user", "Bo: there"),
    ...                      Turn("assistant", "Al: yo")])
    >>> formatted_transcript("A chat.", turns)
    ('A chat.\\nBo: hi\\n\\nBo: there\\n', 'Al: yo')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from airloom.formats.records import Turn

__all__ = ["Turn", "formatted_transcript", "merge_turns", "session_text"]


def merge_turns(turns: Iterable[Turn]) -> list[Turn]:
    """Join consecutive turns of the same role (blank line between), drop empty ones,
    so that a transcript alternates strictly whatever order the speakers came in.

    Example:
        >>> [t.content for t in merge_turns([Turn("user", "a"), Turn("user", "b"),
        ...                                   Turn("assistant", "c")])]
        ['a\\n\\nb', 'c']
    """
    merged: list[Turn] = []
    for turn in turns:
        if not turn.content.strip():
            continue
        if merged and merged[-1].role == turn.role:
            merged[-1] = Turn(turn.role, f"{merged[-1].content}\n\n{turn.content}")
        else:
            merged.append(turn)
    return merged


def formatted_transcript(system: str, turns: Sequence[Turn]) -> tuple[str, str]:
    """The 2.x pre-formatted form of a session (``skip_prompt_formatting`` rows):
    instruction = system text and every turn before the last, one per line, ending
    with a newline; response = the last (assistant) turn.

    Example:
        >>> formatted_transcript("A chat.", [Turn("user", "Bo: hi"), Turn("assistant", "Al: yo")])
        ('A chat.\\nBo: hi\\n', 'Al: yo')
    """
    if not turns or turns[-1].role != "assistant":
        raise ValueError("a session must end with an assistant turn")
    lines = [system.strip(), *(turn.content for turn in turns[:-1])]
    return "\n".join(line for line in lines if line) + "\n", turns[-1].content


def session_text(turns: Sequence[Turn]) -> str:
    """All turns as one text (what the dedup gate compares for a session).

    Example:
        >>> session_text([Turn("user", "a"), Turn("assistant", "b")])
        'a\\nb'
    """
    return "\n".join(turn.content for turn in turns)
