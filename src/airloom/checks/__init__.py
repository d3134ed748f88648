"""Code-checkable properties of records, shared by generation and curation.

An instructor calls a check at generation time and rejects a failing record with the
check's reason; ``airloom verify`` runs the same checks over a store or an export. One
module per kind of check (mathjson, rules, lengths, multiple choice, logs,
anonymisation, …), each a pure function ``check_…(record) -> Verdict`` and registered
in :data:`CHECKS` under the category it applies to.

Example:
    >>> Verdict.passed().ok, Verdict.failed("too short").reason
    (True, 'too short')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from airloom.formats.records import Record


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of one check: ``ok`` and, when not ok, a short human reason."""

    ok: bool
    reason: str = ""

    @classmethod
    def passed(cls) -> Verdict:
        """A passing verdict."""
        return cls(True)

    @classmethod
    def failed(cls, reason: str) -> Verdict:
        """A failing verdict with its reason."""
        return cls(False, reason)


#: A check takes a :class:`~airloom.formats.records.Record` and returns a Verdict.
Check = Callable[[Record], Verdict]

#: category -> checks that apply to its records (filled by the check modules).
CHECKS: dict[str, list[Check]] = {}


def register(category: str) -> Callable[[Check], Check]:
    """Decorator: register a check for a category.

    Example:
        >>> from airloom.formats.records import make_record
        >>> @register("example_category")
        ... def check_nonempty(record):
        ...     return Verdict.passed() if record.response else Verdict.failed("empty")
        >>> CHECKS["example_category"][0](make_record("example_category", "q", "")).reason
        'empty'
    """

    def decorate(check: Check) -> Check:
        CHECKS.setdefault(category, []).append(check)
        return check

    return decorate
