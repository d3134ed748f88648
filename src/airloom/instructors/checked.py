"""The one way an instructor rejects a draft that fails its category's checks.

The checks of :mod:`airloom.checks` are pure functions of a record dict; :func:`enforce`
turns a :class:`Draft` into that dict, runs every check registered for the category and
raises :class:`Rejected` with :attr:`Reason.FAILED_CHECK` (the verdict's reason as
detail) at the first failure, so the engine counts the reject and ``airloom verify``
reruns the very same checks later.

Example:
    >>> enforce("editor", Draft(instruction="Fix.\\n\\nText: Teh cat.", response="The cat."))
    Draft(instruction='Fix.\\n\\nText: Teh cat.', response='The cat.', ...)
    >>> try:
    ...     enforce("editor", Draft(instruction="Fix.\\n\\nText: The cat.", response="The cat."))
    ... except Rejected as exc:
    ...     print(exc)
    failed_check: the text to correct has no errors
"""

from __future__ import annotations

from airloom.checks import checks_for
from airloom.instructors.base import Draft, Rejected
from airloom.reasons import Reason

__all__ = ["enforce"]


def enforce(category: str, draft: Draft) -> Draft:
    """Return the draft unchanged, or raise :class:`Rejected` (``failed_check``) when one
    of the category's checks fails.

    Example:
        >>> enforce("no_checks_here", Draft("a", "b")).response
        'b'
    """
    checks = checks_for(category)
    if not checks:
        return draft
    record = draft.to_record(category)
    for check in checks:
        verdict = check(record)
        if not verdict.ok:
            raise Rejected(Reason.FAILED_CHECK, verdict.reason)
    return draft
