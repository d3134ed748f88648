"""``airloom verify`` over a store or an exported file: verdicts, caching, output.

Over a store, verdicts are kept in its curation table (so a rerun verifies only what
changed, and the report shows pass rates); over a file they go to the report file
only. Failing records are dropped from the output, or kept with a ``verification``
flag (``{"status", "reason"}``) when ``keep_failed`` is set.

Example::

    summary = verify_source("run.airloom.db", VerifyOptions(out=Path("verified.jsonl")))
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airloom.checks import all_checks
from airloom.curate.ledger import Ledger, Verdict
from airloom.curate.sandbox import Limits
from airloom.curate.sources import is_store_file, read_dataset
from airloom.curate.verify import (
    CheckOutcome,
    RecordResult,
    verify_method,
    verify_records,
)
from airloom.export.writers import write_dataset, write_lines_atomic
from airloom.formats.records import Record

__all__ = ["VerifyOptions", "VerifySummary", "verify_source"]


@dataclass
class VerifyOptions:
    """What to verify and where results go."""

    out: Path | None = None
    fmt: str | None = None
    report: Path | None = None
    keep_failed: bool = False
    categories: Sequence[str] = ()
    code: bool = True
    limits: Limits = field(default_factory=Limits)
    workers: int = 4
    recheck: bool = False
    template: str | None = None


@dataclass
class VerifySummary:
    """Counts per category and status, and what was written."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    results: list[RecordResult] = field(default_factory=list)
    cached: int = 0
    written: int = 0
    problems: list[str] = field(default_factory=list)
    unreadable: int = 0

    def totals(self) -> Counter[str]:
        """Counts per status over every category."""
        total: Counter[str] = Counter()
        for counts in self.counts.values():
            total.update(counts)
        return total


def _from_ledger(verdict: Verdict) -> RecordResult:
    return RecordResult(
        verdict.record_id or "",
        verdict.category or "",
        verdict.status,
        verdict.reason,
        tuple(CheckOutcome(**c) for c in json.loads(verdict.raw or "[]")),
    )


def _to_ledger(result: RecordResult, key: str, method: str) -> Verdict:
    raw = json.dumps(
        [{"name": c.name, "status": c.status, "reason": c.reason} for c in result.checks]
    )
    return Verdict(
        "verify",
        key,
        method,
        result.record_id,
        result.category,
        result.status,
        None,
        result.reason,
        raw,
    )


def verify_source(
    source: str | Path,
    options: VerifyOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> VerifySummary:
    """Verify every record of ``source`` (a store or a dataset file); see the module."""
    source = Path(source)
    data = read_dataset(source)
    wanted = set(options.categories)
    indices = [i for i, r in enumerate(data.records) if not wanted or r.category in wanted]
    records = [data.records[i] for i in indices]
    vectors = None if data.vectors is None else data.vectors[indices]
    summary = VerifySummary(problems=list(data.problems), unreadable=data.problem_count)
    method = verify_method(all_checks(), options.code, options.limits)
    keys = [r.content_hash for r in records]
    known: dict[str, Verdict] = {}
    ledger = Ledger.open(source) if is_store_file(source) else None
    try:
        if ledger is not None and not options.recheck:
            known = ledger.get("verify", method, keys)
        todo = [i for i, key in enumerate(keys) if key not in known]
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            if progress is not None:
                progress(done[0], len(todo))

        fresh = verify_records(
            [records[i] for i in todo],
            code=options.code,
            limits=options.limits,
            workers=options.workers,
            progress=step,
        )
        results: list[RecordResult | None] = [
            _from_ledger(known[key]) if key in known else None for key in keys
        ]
        for index, result in zip(todo, fresh, strict=True):
            results[index] = result
        if ledger is not None:
            ledger.put([_to_ledger(results[i], keys[i], method) for i in todo])  # type: ignore[arg-type]
    finally:
        if ledger is not None:
            ledger.close()
    summary.cached = len(records) - len(todo)
    summary.results = [r for r in results if r is not None]
    for result in summary.results:
        summary.counts.setdefault(result.category, Counter())[result.status] += 1
    if options.report is not None:
        _write_report(options.report, records, summary.results)
    if options.out is not None:
        summary.written = _write_output(
            records, summary.results, vectors, data.embedding_model, options
        )
    return summary


def _write_report(path: Path, records: Sequence[Record], results: Sequence[RecordResult]) -> None:
    write_lines_atomic(
        path,
        (
            json.dumps(
                {
                    "index": index,
                    "id": record.id,
                    "category": record.category,
                    "status": result.status,
                    "reason": result.reason,
                    "checks": [
                        {"name": c.name, "status": c.status, "reason": c.reason}
                        for c in result.checks
                    ],
                },
                ensure_ascii=False,
            )
            for index, (record, result) in enumerate(zip(records, results, strict=True))
        ),
    )


def _write_output(
    records: Sequence[Record],
    results: Sequence[RecordResult],
    vectors: Any,
    embedding_model: str | None,
    options: VerifyOptions,
) -> int:
    assert options.out is not None
    kept: list[Record] = []
    rows: list[int] = []
    flags: dict[int, dict[str, str]] = {}  # by position in ``kept``
    for index, (record, result) in enumerate(zip(records, results, strict=True)):
        if result.failed and not options.keep_failed:
            continue
        if result.failed:
            flags[len(kept)] = {"status": result.status, "reason": result.reason}
            record = record.with_meta(verification=flags[len(kept)])
        kept.append(record)
        rows.append(index)
    by_record = {id(kept[position]): flag for position, flag in flags.items()}
    return write_dataset(
        kept,
        options.out,
        options.fmt,
        template=options.template,
        vectors=None if vectors is None else vectors[rows],
        embedding_model=embedding_model,
        # a kept failing record carries its verdict as a key of its JSONL row too
        annotate=lambda r: {"verification": by_record[id(r)]} if id(r) in by_record else {},
    )
