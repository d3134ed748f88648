"""Code-checkable properties of records, shared by generation and curation.

An instructor calls a check at generation time and rejects a failing record with the
check's reason; ``airloom verify`` runs the same checks over a store or an export. One
module per kind of check (mathjson, rules, lengths, multiple choice, logs,
anonymisation, …), each a pure function ``check_…(record) -> Verdict`` and registered
in :data:`CHECKS` under the category it applies to (:func:`checks_for`).

Example:
    >>> Verdict.passed().ok, Verdict.failed("too short").reason
    (True, 'too short')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from airloom.errors import ConfigError
from airloom.formats.records import Record
from airloom.plugins import Registry


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


def _accept_check(category: str, value: Any) -> Check:
    if not callable(value):
        raise ConfigError(f"check plug-in for '{category}' is not callable: {value!r:.60}")
    return cast(Check, value)


_BUILTIN_CHECKS: dict[str, tuple[str, ...]] = {
    "agent": ("airloom.checks.functions:check_function_call",),
    "anonymization": ("airloom.checks.anonymization:check_anonymization",),
    "card": ("airloom.checks.card:check_card",),
    "character": ("airloom.checks.sessions:check_card",),
    "cot": ("airloom.checks.solutions:check_ranked_solutions",),
    "contextual": ("airloom.checks.closed_context:check_closed_context",),
    "counterfactual_contextual": ("airloom.checks.closed_context:check_closed_context",),
    "detailed_writing": ("airloom.checks.lengths:check_word_target",),
    "editor": ("airloom.checks.editor:check_editor",),
    "experience": ("airloom.checks.experience:check_experience_length",),
    "gtkm": ("airloom.checks.sessions:check_session",),
    "inline_actions": (
        "airloom.checks.inline_actions:check_inline_actions",
        "airloom.checks.sessions:check_session",
    ),
    "introspection": (
        "airloom.checks.introspection:check_introspection",
        "airloom.checks.sessions:check_session",
    ),
    "log_extraction": ("airloom.checks.logs:check_log_answer",),
    "mathjson": ("airloom.checks.mathjson:check_mathjson",),
    "multiple_choice": ("airloom.checks.choices:check_answer_key",),
    "plan": ("airloom.checks.plans:check_plan",),
    "quiz": ("airloom.checks.choices:check_quiz",),
    "rp": ("airloom.checks.sessions:check_session",),
    "rules": ("airloom.checks.rules:check_rules",),
    "summarization": ("airloom.checks.lengths:check_summary_length",),
    "trivia": ("airloom.checks.trivia:check_trivia",),
    "wordgame": ("airloom.checks.wordgame:check_wordgame",),
}

#: Checks by the category they apply to: the built-ins above, and third-party checks
#: from the ``airloom.checks`` entry-point group (name: the category; several
#: distributions may add checks to one category).
CHECKS: Registry[Check] = Registry("check", "airloom.checks", _BUILTIN_CHECKS, _accept_check)


def checks_for(category: str) -> list[Check]:
    """The checks that apply to a category's records, in order (none for most).

    Example:
        >>> [check.__name__ for check in checks_for("mathjson")], checks_for("general")
        (['check_mathjson'], [])
    """
    return CHECKS.load_each(category)


def all_checks() -> dict[str, list[Check]]:
    """Every category that has checks, with its checks (what ``airloom verify`` runs).

    Example:
        >>> {"mathjson", "rules", "summarization", "agent", "plan"} <= set(all_checks())
        True
    """
    return {category: checks_for(category) for category in CHECKS.names()}
