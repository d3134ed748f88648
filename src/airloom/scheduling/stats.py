"""Live run statistics: per-category progress, rejects by reason, spending.

The progress display and the JSON-lines log read these; the engine writes them.

Example:
    >>> stats = RunStats()
    >>> stats.category("general", target=10).reject(Reason.DUPLICATE)
    >>> stats.categories["general"].rejects["duplicate"]
    1
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypedDict

from airloom.backends.base import Backend
from airloom.backends.pool import PoolBackend
from airloom.backends.replicas import Replica
from airloom.reasons import Reason
from airloom.scheduling.scheduler import Spending

__all__ = ["TOPICS_ROW", "CategoryStats", "ReplicaRow", "RunStats"]

TOPICS_ROW = "topics"
"""The row of the topic-writing phase: shown with the categories, never a category."""


class ReplicaRow(TypedDict):
    """What the summary shows of one replica of a teacher pool."""

    endpoint: str
    replica: str
    calls: int
    errors: int
    mean_latency_s: float
    rested: int
    state: str


@dataclass
class CategoryStats:
    """Progress of one instructor."""

    name: str
    target: int = 0
    accepted: int = 0
    accepted_this_run: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    rounds: int = 0
    state: str = "waiting"

    def reject(self, reason: Reason | str, n: int = 1) -> None:
        """Count ``n`` rejects for ``reason`` (an older spelling counts as today's).

        Example:
            >>> stats = CategoryStats("editor")
            >>> older = "sources_exhausted"  # what stores of earlier versions hold
            >>> stats.reject(Reason.SOURCE_EXHAUSTED); stats.reject(older)
            >>> dict(stats.rejects)
            {'source_exhausted': 2}
        """
        self.rejects[str(Reason.parse(reason))] += n

    @property
    def done(self) -> bool:
        """Target reached."""
        return self.accepted >= self.target


@dataclass
class RunStats:
    """Everything the display and the summary show."""

    categories: dict[str, CategoryStats] = field(default_factory=dict)
    spending: Spending = field(default_factory=Spending)
    started: float = field(default_factory=time.monotonic)
    requests_at_start: int = 0
    tokens_at_start: int = 0
    cost_at_start: float = 0.0
    filter_hits: Counter[str] = field(default_factory=Counter)
    status: str = "running"
    message: str = ""
    #: What the run is doing when it is not yet generating (loading, writing topics).
    phase: str = ""
    #: The replicas of each teacher pool the run uses, by endpoint name (live objects).
    pools: dict[str, Sequence[Replica]] = field(default_factory=dict)

    def category(self, name: str, target: int | None = None) -> CategoryStats:
        """The stats of one category (created on first use)."""
        stats = self.categories.get(name)
        if stats is None:
            stats = self.categories[name] = CategoryStats(name)
        if target is not None:
            stats.target = target
        return stats

    def watch(self, backend: Backend) -> None:
        """Show a teacher pool's replicas in the display and the summary (other backends
        have none).

        Example:
            >>> from airloom.backends.scripted import ScriptedBackend
            >>> stats = RunStats()
            >>> stats.watch(PoolBackend("teacher", [(ScriptedBackend([]), "http://a/v1", 4)]))
            >>> [replica.url for replica in stats.pools["teacher"]]
            ['http://a/v1']
        """
        if isinstance(backend, PoolBackend):
            self.pools[backend.name] = backend.replicas

    def replica_rows(self) -> list[ReplicaRow]:
        """One row per replica of every pool: calls, errors, mean latency, times rested,
        state now.

        Example:
            >>> stats = RunStats(pools={"teacher": [Replica("http://a/v1", limit=4)]})
            >>> stats.pools["teacher"][0].figures.record(0.25)
            >>> stats.replica_rows()[0]["mean_latency_s"], stats.replica_rows()[0]["state"]
            (0.25, 'ready')
        """
        now = time.monotonic()
        return [
            ReplicaRow(
                endpoint=name,
                replica=replica.url,
                calls=replica.figures.calls,
                errors=replica.figures.errors,
                mean_latency_s=round(replica.figures.mean_latency, 3),
                rested=replica.health.rested,
                state=replica.state(now),
            )
            for name, replicas in self.pools.items()
            for replica in replicas
        ]

    def mark_interrupted(self) -> None:
        """A stopped run: every unfinished category (and the topic phase) says so, and
        the message says how to go on.

        Example:
            >>> stats = RunStats()
            >>> stats.category("general", target=3).state = "running"
            >>> stats.category("joke", target=1).state = "stalled"
            >>> stats.mark_interrupted()
            >>> [c.state for c in stats.categories.values()], stats.status
            (['interrupted', 'stalled'], 'interrupted')
        """
        for category in self.categories.values():
            if category.state in ("waiting", "running", "stopped"):
                category.state = "interrupted"
        self.status = "interrupted"
        self.message = "interrupted: run the same command again to resume"

    def resume_from(self, spending: Spending) -> None:
        """Take the store's totals as the spending so far (budgets span every run) and
        remember them, so that what this run spent can be told apart.

        Example:
            >>> stats = RunStats()
            >>> stats.resume_from(Spending(requests=5, prompt_tokens=70, completion_tokens=30))
            >>> stats.spending.requests += 1; stats.spending.completion_tokens += 9
            >>> stats.this_run()
            (1, 9, 0.0)
        """
        self.spending = spending
        self.requests_at_start = spending.requests
        self.tokens_at_start = spending.tokens
        self.cost_at_start = spending.cost

    def this_run(self) -> tuple[int, int, float]:
        """Requests, tokens and cost of this run alone."""
        s = self.spending
        return (
            s.requests - self.requests_at_start,
            s.tokens - self.tokens_at_start,
            s.cost - self.cost_at_start,
        )

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    def requests_per_minute(self) -> float:
        """Teacher calls of this run per minute."""
        calls = self.spending.requests - self.requests_at_start
        return 60.0 * calls / max(self.elapsed, 1e-6)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready snapshot (for logs and the summary)."""
        return {
            "status": self.status,
            "elapsed_s": round(self.elapsed, 3),
            "requests": self.spending.requests,
            "cache_hits": self.spending.cache_hits,
            "retries": self.spending.retries,
            "rate_limited": self.spending.rate_limited,
            "prompt_tokens": self.spending.prompt_tokens,
            "completion_tokens": self.spending.completion_tokens,
            "cost": round(self.spending.cost, 6),
            "filter_hits": dict(self.filter_hits),
            "replicas": self.replica_rows(),
            "categories": {
                name: {
                    "accepted": c.accepted,
                    "target": c.target,
                    "accepted_this_run": c.accepted_this_run,
                    "rejects": dict(c.rejects),
                    "state": c.state,
                }
                for name, c in self.categories.items()
            },
        }
