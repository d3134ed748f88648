"""Run a category's registered record checks on a draft at generation time.

The checks of :mod:`airloom.checks` are pure functions of a record dict; this module
turns a :class:`Draft` into that dict and raises :class:`Rejected` (reason
``failed_check``, the verdict's reason as detail) when one fails, so the engine counts
the reject and curation can rerun the very same checks later.

Example:
    >>> import airloom.checks.editor
    >>> enforce("editor", Draft(instruction="Fix.\\n\\nText: Teh cat.", response="The cat."))
    Draft(instruction='Fix.\\n\\nText: Teh cat.', response='The cat.', ...)
    >>> try:
    ...     enforce("editor", Draft(instruction="Fix.\\n\\nText: The cat.", response="The cat."))
    ... except Rejected as exc:
    ...     print(exc)
    failed_check: the text to correct has no errors
"""

from __future__ import annotations

from airloom.checks import CHECKS
from airloom.instructors.base import Draft, Rejected

#: Reject reason of a draft that fails one of its category's checks.
FAILED_CHECK = "failed_check"


def enforce(category: str, draft: Draft) -> Draft:
    """Return the draft unchanged, or raise :class:`Rejected` when a check fails."""
    checks = CHECKS.get(category, [])
    if not checks:
        return draft
    record = draft.to_record(category)
    for check in checks:
        verdict = check(record)
        if not verdict.ok:
            raise Rejected(FAILED_CHECK, verdict.reason)
    return draft
