"""``judge`` and ``cull`` over a store: the library functions behind the commands.

Example (what ``airloom cull`` runs)::

    session = CurationSession(config, "run.airloom.db")
    result = asyncio.run(cull_store(session, CullOptions(out=Path("culled.jsonl"))))
    print(result.summary)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from airloom.config import configured_path
from airloom.curate.cluster import near_duplicate_clusters
from airloom.curate.cull import Decision, decide, summarise
from airloom.curate.importer import embed_missing
from airloom.curate.judge import Judge, JudgeOutcome, JudgeSettings, Rubric
from airloom.curate.ledger import Verdict
from airloom.curate.session import CurationSession, judge_params
from airloom.curate.sources import Dataset, read_store
from airloom.errors import AirloomError, StoreError
from airloom.export.writers import write_dataset, write_lines_atomic
from airloom.formats.records import Record
from airloom.vectors.embed import make_embedder

__all__ = [
    "CullOptions",
    "CullResult",
    "IncompleteJudging",
    "cull_store",
    "judge_records",
    "judge_settings",
    "judge_store",
    "write_decisions",
]


class IncompleteJudging(AirloomError):
    """Some records have no verdict yet (a budget or a stop ended judging early)."""

    exit_code = 7


def judge_settings(session: CurationSession, retry_errors: bool = False) -> JudgeSettings:
    """The judge of a session's config: model, params, threshold, rubric, workers."""
    config = session.config
    # the original's own judge template (filter.txt) is the built-in frame here
    prompt_path = configured_path(config.scoring.prompt_path, session.base_dir, "filter.txt")
    return JudgeSettings(
        model=session.model,
        params=judge_params(config),
        threshold=float(config.scoring.threshold),
        rubric=Rubric.load(prompt_path),
        workers=config.judge.batch_size or config.concurrency.max_requests,
        retry_errors=retry_errors,
    )


def _select(data: Dataset, categories: Sequence[str] | None) -> Dataset:
    if not categories:
        return data
    wanted = set(categories)
    rows = [i for i, r in enumerate(data.records) if r.category in wanted]
    vectors = None if data.vectors is None else data.vectors[rows]
    return Dataset(data.source, [data.records[i] for i in rows], vectors, data.embedding_model)


async def judge_records(
    session: CurationSession,
    records: Sequence[Record],
    *,
    retry_errors: bool = False,
) -> JudgeOutcome:
    """Judge records (verdicts cached in the session's store); ``session`` must be open."""
    judge = Judge(
        judge_settings(session, retry_errors),
        call=session.call,
        ledger_get=lambda method, keys: session.db(session.ledger.get, "judge", method, list(keys)),
        ledger_put=lambda verdicts: session.db(session.ledger.put, verdicts),
        stats=session.stats,
    )
    outcome = await judge.run(records)
    session.stats.status = "budget" if outcome.stopped else "completed"
    session.stats.message = outcome.stopped
    return outcome


async def judge_store(
    session: CurationSession,
    *,
    categories: Sequence[str] | None = None,
    retry_errors: bool = False,
) -> JudgeOutcome:
    """Judge every record of the session's store (or of some categories)."""
    async with session:
        data = _select(await session.db(read_store, session.store_path), categories)
        return await judge_records(session, data.records, retry_errors=retry_errors)


@dataclass
class CullOptions:
    """What to cull and where the survivors go."""

    out: Path
    fmt: str | None = None
    decisions: Path | None = None
    categories: Sequence[str] = ()
    pass_through: Sequence[str] = ()
    threshold: float | None = None
    scope: str = "category"
    retry_errors: bool = False
    template: str | None = None


@dataclass
class CullResult:
    """Decisions per input record, counts, and the judge's work."""

    decisions: list[Decision]
    summary: dict[str, int]
    outcome: JudgeOutcome
    written: int = 0
    embedded: int = 0
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _vectors(data: Dataset, model_name: str) -> tuple[np.ndarray, int]:
    stored = data.vectors if data.embedding_model == model_name else None
    texts = [r.dedup_text for r in data.records]
    missing = len(texts) if stored is None else int(sum(not np.any(row) for row in stored))
    if missing == 0 and stored is not None:
        return stored, 0
    return embed_missing(texts, stored, make_embedder(model_name))


def _verdicts(
    data: Dataset, outcome: JudgeOutcome, pass_through: Sequence[str]
) -> list[Verdict | None]:
    out: list[Verdict | None] = []
    for record in data.records:
        if record.category in pass_through:
            key = record.content_hash
            out.append(Verdict("judge", key, "pass-through", record.id, record.category, "good"))
        else:
            out.append(outcome.verdicts.get(record.content_hash))
    return out


async def cull_store(session: CurationSession, options: CullOptions) -> CullResult:
    """Judge (cached), cluster near-duplicates, keep the best of each, write in input order.

    Raises :class:`IncompleteJudging` (nothing written) when judging stopped early.
    """
    async with session:
        data = _select(await session.db(read_store, session.store_path), options.categories)
        judged = [r for r in data.records if r.category not in options.pass_through]
        outcome = await judge_records(session, judged, retry_errors=options.retry_errors)
    verdicts = _verdicts(data, outcome, options.pass_through)
    missing = sum(v is None for v in verdicts)
    if missing:
        reason = outcome.stopped or f"{outcome.failed_calls} judge calls failed"
        raise IncompleteJudging(
            f"{missing} records have no verdict yet ({reason}); nothing was written",
            hint="run the same command again: verdicts already made are kept and reused",
        )
    model_name = data.embedding_model or session.config.embedding_model
    vectors, embedded = _vectors(data, model_name)
    config = session.config
    scopes = [r.category if options.scope == "category" else "*" for r in data.records]
    thresholds = {
        scope: options.threshold
        if options.threshold is not None
        else config.dedup_cosine(None if scope == "*" else scope)
        for scope in set(scopes)
    }
    clusters = near_duplicate_clusters(
        vectors,
        scopes,
        thresholds,
        max_k=config.cull_max_k,
        exact_keys=[r.exact_key for r in data.records],
    )
    decisions = decide(clusters, verdicts)
    kept = [d.index for d in decisions if d.kept]
    written = write_dataset(
        [data.records[i] for i in kept],
        options.out,
        options.fmt,
        template=options.template,
        vectors=vectors[kept] if len(kept) else None,
        embedding_model=model_name,
    )
    decisions_path = options.decisions or options.out.with_name(
        options.out.name + ".decisions.jsonl"
    )
    write_decisions(decisions_path, data, decisions)
    return CullResult(
        decisions,
        summarise(decisions),
        outcome,
        written=written,
        embedded=embedded,
        errors=sum(1 for v in verdicts if v is not None and v.status == "error"),
    )


def write_decisions(path: Path, data: Dataset, decisions: Sequence[Decision]) -> None:
    """One JSON line per input record: id, category, kept, reason, cluster, score."""
    if path.exists() and path.is_dir():
        raise StoreError(f"{path} is a folder", hint="pass a file name with --decisions")
    write_lines_atomic(
        path,
        (
            json.dumps(
                {
                    "index": d.index,
                    "id": data.records[d.index].id,
                    "category": data.records[d.index].category,
                    "kept": d.kept,
                    "reason": d.reason,
                    "cluster": d.cluster,
                    "score": d.score,
                    "duplicate_of": None
                    if d.duplicate_of is None
                    else data.records[d.duplicate_of].id,
                },
                ensure_ascii=False,
            )
            for d in decisions
        ),
    )
