"""Values compared as a reader means them: a call's arguments against the expected ones.

Strings match without case, spacing or a final full stop; numbers as numbers (``3`` is
``3.0``); booleans only as booleans. The eval scores function calls and citations with
it, and the agent instructor checks the calls it keeps.

Example:
    >>> same_value("New  York.", "new york"), same_value(1, True)
    (True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["argument_problems", "same_value"]


def same_value(expected: Any, got: Any) -> bool:
    """Equal as values: strings without case and spacing, numbers as numbers, lists and
    mappings element by element.

    Example:
        >>> same_value({"city": "New York", "days": 3}, {"city": "new  york", "days": 3.0})
        True
        >>> same_value(["a"], ["a", "b"]), same_value(True, 1)
        (False, False)
    """
    if isinstance(expected, bool) or isinstance(got, bool):
        return isinstance(expected, bool) and isinstance(got, bool) and expected == got
    if isinstance(expected, int | float) and isinstance(got, int | float):
        return float(expected) == float(got)
    if isinstance(expected, str) and isinstance(got, str):
        return " ".join(expected.casefold().split()).rstrip(".") == " ".join(
            got.casefold().split()
        ).rstrip(".")
    if isinstance(expected, Mapping) and isinstance(got, Mapping):
        return set(expected) == set(got) and all(same_value(expected[k], got[k]) for k in expected)
    if isinstance(expected, list | tuple) and isinstance(got, list | tuple):
        return len(expected) == len(got) and all(map(same_value, expected, got))
    return bool(expected == got)


def argument_problems(expected: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    """What differs between a call's arguments and the expected ones, a line per key.

    Example:
        >>> argument_problems({"city": "Oslo"}, {"city": "oslo", "days": 2})
        ['days: not expected (got 2)']
    """
    problems = [
        f"{key}: expected {expected[key]!r}, got {got.get(key, '<missing>')!r}"
        for key in expected
        if key not in got or not same_value(expected[key], got[key])
    ]
    problems += [f"{key}: not expected (got {got[key]!r})" for key in got if key not in expected]
    return problems
