"""What the acceptance gate and an instructor round use of a run, handed to them.

The engine builds one :class:`RunServices` once the store, the dedup index and the
scheduler exist; the gate and every round context receive it instead of the engine, so
they depend on these collaborators alone (and a test builds them without an engine).

Example:
    >>> from airloom.engine.dedup import DedupState
    >>> from airloom.scheduling.stats import RunStats
    >>> async def no_records(categories): return []
    >>> services = RunServices(seed=7, stats=RunStats(), scheduler=None, dedup=DedupState(0),
    ...     embedder=None, threshold=lambda category: 0.9, source_records=no_records,
    ...     topic_sampler=lambda category: None)
    >>> services.threshold("general")
    0.9
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airloom.engine.dedup import BatchEmbedder, DedupState
    from airloom.engine.topics import TopicSampler
    from airloom.formats.records import Record
    from airloom.scheduling.scheduler import Scheduler
    from airloom.scheduling.stats import RunStats

__all__ = ["RunServices"]


@dataclass(frozen=True)
class RunServices:
    """The run's collaborators that rounds and the gate share.

    * ``seed``: the run seed (round seeds derive from it);
    * ``stats``: counts, rejects by reason and filter hits;
    * ``scheduler``: every teacher call (limits, retries, budgets, the request cache);
    * ``dedup`` and ``embedder``: the near-duplicate index and the batching embedder
      (``None`` when dedup is off);
    * ``threshold``: the cosine at or above which a text of a category is a duplicate;
    * ``source_records``: stored records of other categories (read once per run);
    * ``topic_sampler``: the topics of one category.
    """

    seed: int
    stats: RunStats
    scheduler: Scheduler
    dedup: DedupState
    embedder: BatchEmbedder | None
    threshold: Callable[[str], float]
    source_records: Callable[[Sequence[str]], Awaitable[list[Record]]]
    topic_sampler: Callable[[str], TopicSampler]
