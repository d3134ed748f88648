"""Verifiers: every code-checkable property of every record, with a verdict and a reason.

Two kinds of verifier run over each record:

* the shared checks registered in :data:`airloom.checks.CHECKS` for its category (the
  same pure functions generation uses to reject records: mathjson, rules, lengths,
  multiple choice, inline actions, …); every module of :mod:`airloom.checks` is
  imported so that each one registers itself;
* for ``coding`` records, :func:`airloom.curate.code_check.check_code` (sandboxed).

A record fails when any verifier fails, errs when a check crashed, is unverified when its
code could not be run (no sandbox on this machine), passes when at least one verifier
passed and none failed, and is skipped when nothing could verify it.

Example:
    >>> from airloom.formats.records import make_record
    >>> result = verify_record(make_record(id="1", category="no_checks_here",
    ...                         instruction="a", response="b"))
    >>> result.status, result.reason
    ('skip', 'no verifier for this category')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from airloom import __version__
from airloom.checks import Check, all_checks
from airloom.curate.code_check import check_code
from airloom.curate.sandbox import Limits, isolation_layers
from airloom.formats.records import Record

__all__ = [
    "CODE_CATEGORIES",
    "CheckOutcome",
    "RecordResult",
    "verify_method",
    "verify_record",
    "verify_records",
]

CODE_CATEGORIES = frozenset({"coding"})


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One verifier's result on one record."""

    name: str
    status: str
    reason: str


@dataclass(frozen=True)
class RecordResult:
    """The verdict on one record, with every verifier's result."""

    record_id: str
    category: str
    status: str
    reason: str
    checks: tuple[CheckOutcome, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> bool:
        """True when a verifier failed."""
        return self.status == "fail"


def _name(check: Check) -> str:
    return f"{getattr(check, '__module__', '?')}.{getattr(check, '__name__', repr(check))}"


def _run_check(check: Check, record: Record) -> CheckOutcome:
    try:
        verdict = check(record)
    except Exception as exc:  # a check's bug must not stop verification
        return CheckOutcome(
            _name(check), "error", f"the check crashed: {type(exc).__name__}: {exc}"
        )
    if verdict.ok:
        return CheckOutcome(_name(check), "pass", "")
    return CheckOutcome(_name(check), "fail", verdict.reason or "failed")


def _overall(outcomes: Sequence[CheckOutcome]) -> tuple[str, str]:
    if not outcomes:
        return "skip", "no verifier for this category"
    for status in ("fail", "error", "unverified"):
        chosen = [o for o in outcomes if o.status == status]
        if chosen:
            return status, "; ".join(o.reason for o in chosen)
    passed = [o for o in outcomes if o.status == "pass"]
    if passed:
        return "pass", "; ".join(o.reason for o in passed if o.reason) or "all checks pass"
    return "skip", "; ".join(o.reason for o in outcomes)


def verify_record(
    record: Record,
    *,
    checks: Mapping[str, Sequence[Check]] | None = None,
    code: bool = True,
    limits: Limits | None = None,
) -> RecordResult:
    """Run every verifier that applies to one record (module docstring)."""
    registry = all_checks() if checks is None else checks
    category = record.category or "general"
    outcomes = [_run_check(check, record) for check in registry.get(category, [])]
    if code and category in CODE_CATEGORIES:
        result = check_code(record, limits)
        outcomes.append(CheckOutcome("code", result.status, result.reason))
    status, reason = _overall(outcomes)
    return RecordResult(record.id, category, status, reason, tuple(outcomes))


def verify_method(checks: Mapping[str, Sequence[Check]], code: bool, limits: Limits) -> str:
    """Identity of a verifier set (cached verdicts of another set are not reused).

    Example:
        >>> verify_method({}, False, Limits()).startswith("verify:")
        True
    """
    names = {category: sorted(_name(c) for c in found) for category, found in checks.items()}
    blob = json.dumps(
        [__version__, names, code, repr(limits), isolation_layers(limits) if code else ()],
        sort_keys=True,
    )
    return "verify:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


def verify_records(
    records: Sequence[Record],
    *,
    code: bool = True,
    limits: Limits | None = None,
    workers: int = 4,
    progress: Callable[[int], None] | None = None,
) -> list[RecordResult]:
    """Verify records in parallel threads (sandboxed runs are separate processes);
    results are in input order."""
    registry = all_checks()
    results: list[RecordResult | None] = [None] * len(records)

    def one(index: int) -> None:
        results[index] = verify_record(records[index], checks=registry, code=code, limits=limits)
        if progress is not None:
            progress(1)

    with ThreadPoolExecutor(
        max_workers=max(1, workers), thread_name_prefix="airloom-verify"
    ) as pool:
        list(pool.map(one, range(len(records))))
    return [r for r in results if r is not None]
