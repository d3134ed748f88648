"""The acceptance gate: dedup-check, embed, insert and count drafts in one transaction.

Rounds submit their drafts here; a single worker takes everything queued, embeds the
texts in one batch (cached vectors are reused), decides each draft in order — exact
duplicate, near duplicate of the store or of an earlier draft of the same batch, or
surplus beyond the category's target — and commits the accepted records, the rejects
and the finished rounds in ONE store transaction. Only then is the in-memory index
updated, so memory never runs ahead of disk and check-and-insert is atomic across
every instructor running at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from airloom.formats.records import Provenance, Record, dedup_key
from airloom.instructors.base import Draft
from airloom.reasons import Reason

if TYPE_CHECKING:
    from airloom.engine.context import EngineRoundContext
    from airloom.engine.services import RunServices

__all__ = ["Commit", "Gate", "RejectRow"]

#: A stored reject: run id, category, reason, detail.
RejectRow = tuple[str, str, str, str | None]
#: Commits accepted records, rejects and finished rounds (category, index) in one
#: store transaction.
Commit = Callable[[list[Record], list[RejectRow], list[tuple[str, int]]], Awaitable[None]]


@dataclass
class _Job:
    ctx: EngineRoundContext
    drafts: list[Draft]
    future: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Gate:
    """Serialises acceptance (see the module docstring)."""

    def __init__(self, services: RunServices, *, commit: Commit, run_id: str) -> None:
        self.services = services
        self.embedder = services.embedder
        self._commit = commit
        self.run_id = run_id
        self._jobs: list[_Job] = []
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self.units: dict[str, set[str]] = {}

    def start(self) -> None:
        """Start the worker task."""
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, ctx: EngineRoundContext, drafts: list[Draft]) -> int:
        """Queue a finished round's drafts; returns how many were accepted."""
        job = _Job(ctx, drafts)
        self._jobs.append(job)
        self._wakeup.set()
        return await job.future

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._jobs:
                jobs, self._jobs = self._jobs, []
                try:
                    accepted = await self._process(jobs)
                except BaseException as exc:
                    for job in jobs:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for job, count in zip(jobs, accepted, strict=True):
                    if not job.future.done():
                        job.future.set_result(count)

    async def _vectors(self, texts: list[str]) -> np.ndarray | None:
        if self.embedder is None or not texts:
            return None
        return await self.embedder.embed(texts)

    def _best_scores(
        self, scopes: list[str], keys: list[str], vectors: np.ndarray | None
    ) -> np.ndarray:
        """Best stored cosine of every draft, one search per scope (of what was added
        since its pre-check, where it had one)."""
        scores = np.full(len(keys), -1.0, dtype=np.float32)
        if vectors is None:
            return scores
        for scope in set(scopes):
            rows = [i for i, name in enumerate(scopes) if name == scope]
            scores[rows] = self.services.dedup.best_since(
                scope, [keys[i] for i in rows], vectors[rows]
            )
        return scores

    def _unit_is_new(
        self, category: str, unit: str | None, batch_units: set[tuple[str, str]]
    ) -> bool:
        if unit is None:
            return True
        known = self.units.setdefault(category, set())
        return unit not in known and (category, unit) not in batch_units

    def _groups(self, flat: list[tuple[_Job, Draft]]) -> list[list[int]]:
        """Positions of drafts grouped by (round, unit), in order; a draft without a
        unit is a group of its own. A group is accepted or rejected as a whole."""
        groups: dict[tuple[int, str], list[int]] = {}
        for position, (job, draft) in enumerate(flat):
            unit = draft.unit if draft.unit is not None else f"#{position}"
            groups.setdefault((id(job), unit), []).append(position)
        return list(groups.values())

    def _duplicate(
        self,
        category: str,
        scope: str,
        key: str,
        vector: np.ndarray | None,
        best: float,
        batch_keys: set[str],
        batch_vectors: dict[str, list[np.ndarray]],
    ) -> bool:
        """Exact or near duplicate of the store or of units accepted earlier in the batch."""
        if key in self.services.dedup.keys or key in batch_keys:
            return True
        if vector is None:
            return False
        threshold = self.services.threshold(category)
        earlier = batch_vectors.get(scope)
        return best >= threshold or bool(
            earlier and float(np.max(np.stack(earlier) @ vector)) >= threshold
        )

    async def _process(self, jobs: list[_Job]) -> list[int]:
        services = self.services
        flat = [(job, draft) for job in jobs for draft in job.drafts]
        texts = [draft.text_for_dedup() for _, draft in flat]
        keys = [dedup_key(text) for text in texts]
        vectors = await self._vectors(texts)
        scopes = [services.dedup.scope_of(job.ctx.category) for job, _ in flat]
        bests = self._best_scores(scopes, keys, vectors)
        records: list[Record] = []
        rejects: list[RejectRow] = []
        accepted_per_job = dict.fromkeys(range(len(jobs)), 0)
        job_index = {id(job): i for i, job in enumerate(jobs)}
        batch_keys: set[str] = set()
        batch_vectors: dict[str, list[np.ndarray]] = {}
        new_counts: dict[str, int] = {}
        new_units: list[tuple[str, str]] = []
        batch_units: set[tuple[str, str]] = set()  # units counted earlier in this batch
        for group in self._groups(flat):
            job, first = flat[group[0]]
            ctx = job.ctx
            category = ctx.category
            scope = scopes[group[0]]
            stats = services.stats.category(category)
            rows = []
            reason = None
            for position in group:
                draft = flat[position][1]
                key = keys[position]
                vector = None if vectors is None or not draft.near_dedup else vectors[position]
                best = float(bests[position])
                if self._duplicate(category, scope, key, vector, best, batch_keys, batch_vectors):
                    reason = Reason.DUPLICATE
                    break
                rows.append((draft, key, vector))
            new_unit = self._unit_is_new(category, first.unit, batch_units)
            already = stats.accepted + new_counts.get(category, 0)
            if reason is None and new_unit and already >= stats.target:
                reason = Reason.SURPLUS
            if reason is not None:
                for position in group:
                    stats.reject(reason)
                    instruction = flat[position][1].instruction
                    rejects.append((self.run_id, category, reason, instruction[:200]))
                continue
            if new_unit:
                new_counts[category] = new_counts.get(category, 0) + 1
                if first.unit is not None:
                    new_units.append((category, first.unit))
                    batch_units.add((category, first.unit))
            for draft, key, vector in rows:
                batch_keys.add(key)
                if vector is not None:
                    batch_vectors.setdefault(scope, []).append(vector)
                accepted_per_job[job_index[id(job)]] += 1
                records.append(self._record(ctx, draft, key, vector))
        for job in jobs:
            rejects.extend(
                (self.run_id, job.ctx.category, reason, detail)
                for reason, detail in job.ctx.rejects
            )
            job.ctx.rejects.clear()
        finished = [(job.ctx.category, job.ctx.round_index) for job in jobs]
        await self._commit(records, rejects, finished)
        # Only after the commit: memory follows disk.
        for record in records:
            services.dedup.add(record.category, record.dedup_key, record.embedding)
        for category, unit in new_units:
            self.units.setdefault(category, set()).add(unit)
        for category, count in new_counts.items():
            stats = services.stats.category(category)
            stats.accepted += count
            stats.accepted_this_run += count
        return [accepted_per_job[i] for i in range(len(jobs))]

    def _record(
        self, ctx: EngineRoundContext, draft: Draft, key: str, vector: np.ndarray | None
    ) -> Record:
        category = ctx.category
        provenance = Provenance(
            instructor=category,
            model=ctx.provenance.model,
            endpoint=ctx.provenance.endpoint,
            params=ctx.provenance.params,
            template_hash=ctx.provenance.template_hash,
            seed=self.services.seed,
            run_id=self.run_id,
            round_key=f"{category}:{ctx.round_index}",
            created_at=time.time(),
        )
        return draft.to_record(category, provenance=provenance, dedup_key=key, embedding=vector)

    async def aclose(self) -> None:
        """Wait for queued jobs, then stop the worker."""
        while self._jobs:
            await asyncio.sleep(0.01)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
