"""The dedup gate's state: exact keys, per-scope vector indexes, micro-batched embeddings.

A text is searched against the store twice: by the pre-check before its response is
paid for, and by the gate at acceptance. :meth:`DedupState.note_checked` remembers the
pre-check's best score and how many vectors the index held then; :meth:`DedupState.best_since`
then searches only the vectors added since (the index only grows), so the gate's search
no longer grows with the store.

Embeddings are computed off the event loop in one worker thread; concurrent requests
are coalesced into one batch (up to ``batch_size`` texts), and vectors are cached by
text so the pre-check before a response call and the final check at acceptance embed
each instruction once. :meth:`BatchEmbedder.warm_up` runs the model once in that thread
while the first teacher calls are in flight, so the first real batch pays no start-up.

Example:
    >>> import numpy as np
    >>> state = DedupState(dim=2, scope="global")
    >>> state.add("general", "k1", np.array([1.0, 0.0], dtype=np.float32))
    >>> float(state.best("coding", np.array([[1.0, 0.0]], dtype=np.float32))[0])
    1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from airloom.vectors.embed import Embedder
from airloom.vectors.index import VectorIndex

__all__ = ["RECENT_VECTORS", "WARM_UP_TEXTS", "BatchEmbedder", "DedupState", "log"]

log = logging.getLogger(__name__)

# Texts of the usual lengths of instructions: the model's first calls per shape are slow.
WARM_UP_TEXTS = [
    "Hello.",
    "Write a short poem about the sea at night.",
    "Explain, step by step and with an example, how a binary search finds an item in a "
    "sorted list, and say when it is faster than reading the list from the start.",
]


#: Vectors added during the run that are kept beside each index, for the searches of
#: :meth:`DedupState.best_since` (a pre-check older than these falls back to a full search).
RECENT_VECTORS = 4096
#: Pre-check results remembered (one per text; the oldest are forgotten first).
CHECKS_KEPT = 50_000


class DedupState:
    """Exact keys plus one vector index (``global``) or one per category."""

    def __init__(
        self,
        dim: int,
        scope: str = "global",
        hnsw_above: int = 200_000,
        recent_vectors: int = RECENT_VECTORS,
    ) -> None:
        self.dim = dim
        self.scope = scope
        self.hnsw_above = hnsw_above
        self.recent_vectors = recent_vectors
        self.keys: set[str] = set()
        self._indexes: dict[str, VectorIndex] = {}
        # per scope: the vectors added by add(), the newest recent_vectors of them, and the
        # index position of the first one kept
        self._recent: dict[str, tuple[int, list[np.ndarray]]] = {}
        # text key -> (scope, index size, best score) of its pre-check
        self._checked: OrderedDict[str, tuple[str, int, float]] = OrderedDict()

    def scope_of(self, category: str) -> str:
        """The index a category's texts are searched in: ``*`` for them all under the
        global scope, else the category's own.

        Example:
            >>> DedupState(dim=2).scope_of("coding"), DedupState(2, "category").scope_of("coding")
            ('*', 'coding')
        """
        return "*" if self.scope == "global" else category

    def _index(self, category: str) -> VectorIndex:
        name = self.scope_of(category)
        index = self._indexes.get(name)
        if index is None:
            index = self._indexes[name] = VectorIndex(self.dim, hnsw_above=self.hnsw_above)
        return index

    def load(self, categories: list[str], keys: list[str], matrix: np.ndarray) -> None:
        """Rebuild from stored embeddings (resume; nothing is re-embedded)."""
        self.keys.update(keys)
        if not len(categories) or matrix.shape[1] != self.dim:
            return
        if self.scope == "global":
            self._index("*").add(matrix)
            return
        cats = np.array(categories)
        for category in sorted(set(categories)):
            self._index(category).add(matrix[cats == category])

    def best(self, category: str, vectors: np.ndarray) -> np.ndarray:
        """Highest cosine of each vector against the stored records in scope."""
        return self._index(category).nearest(vectors)

    def add(self, category: str, key: str, vector: np.ndarray | None) -> None:
        """Remember an accepted record."""
        self.keys.add(key)
        if vector is None:
            return
        index = self._index(category)
        name = self.scope_of(category)
        start, recent = self._recent.get(name, (len(index), []))
        index.add(vector.reshape(1, -1))
        recent.append(np.asarray(vector, dtype=np.float32).reshape(-1))
        if len(recent) > self.recent_vectors:
            drop = len(recent) - self.recent_vectors
            del recent[:drop]
            start += drop
        self._recent[name] = (start, recent)

    def note_checked(self, category: str, keys: list[str], best: np.ndarray) -> None:
        """Remember the pre-check of texts (by key): their best scores against the index
        as it is now."""
        name = self.scope_of(category)
        size = len(self._index(category))
        for key, score in zip(keys, best.tolist(), strict=True):
            self._checked[key] = (name, size, float(score))
            self._checked.move_to_end(key)
        while len(self._checked) > CHECKS_KEPT:
            self._checked.popitem(last=False)

    def best_since(self, category: str, keys: list[str], vectors: np.ndarray) -> np.ndarray:
        """:meth:`best` of each vector, searching only what was added since the text's
        pre-check where one is remembered (and the vectors since are still kept); a full
        search for the others. Each remembered check is used once.

        Example:
            >>> state = DedupState(dim=2)
            >>> state.add("general", "k1", np.array([1.0, 0.0], dtype=np.float32))
            >>> query = np.array([[0.0, 1.0]], dtype=np.float32)
            >>> state.note_checked("general", ["q"], state.best("general", query))
            >>> state.add("general", "k2", np.array([0.6, 0.8], dtype=np.float32))
            >>> round(float(state.best_since("general", ["q"], query)[0]), 3)
            0.8
        """
        name = self.scope_of(category)
        scores = np.full(len(keys), -1.0, dtype=np.float32)
        start, recent = self._recent.get(name, (len(self._index(category)), []))
        full: list[int] = []
        for row, key in enumerate(keys):
            check = self._checked.pop(key, None)
            if check is None or check[0] != name or check[1] < start:
                full.append(row)
                continue
            since = recent[check[1] - start :]
            newest = float(np.max(np.stack(since) @ vectors[row])) if since else -1.0
            scores[row] = max(check[2], newest)
        if full:
            scores[full] = self.best(category, vectors[full])
        return scores

    def __len__(self) -> int:
        return sum(len(index) for index in self._indexes.values())


class BatchEmbedder:
    """Async, coalescing, caching front of an :class:`Embedder`."""

    def __init__(
        self, embedder: Embedder, *, batch_size: int = 64, cache_size: int = 50_000
    ) -> None:
        self.embedder = embedder
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: dict[str, asyncio.Future[np.ndarray]] = {}
        self._queue: list[str] = []
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="airloom-embed")
        self.texts_embedded = 0

    def warm_up(self) -> None:
        """Run the model once in the worker thread, now, without waiting for it; batches
        asked for meanwhile queue behind it. A failure is logged: the first real batch
        reports it."""
        self._executor.submit(self._warm)

    def _warm(self) -> None:
        try:
            self.embedder.encode(WARM_UP_TEXTS)
        except Exception as exc:  # the first real batch raises it where it is handled
            log.debug("embedder warm-up failed: %r", exc)

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts`` (rows in order), computed at most once per text."""
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = loop.create_task(self._run())
        # Cached vectors are taken now: a concurrent batch may evict them while we wait.
        known: dict[str, np.ndarray] = {}
        waits: dict[str, asyncio.Future[np.ndarray]] = {}
        for text in texts:
            if text in known or text in waits:
                continue
            cached = self._cache.get(text)
            if cached is not None:
                known[text] = cached
                continue
            future = self._pending.get(text)
            if future is None:
                future = self._pending[text] = loop.create_future()
                self._queue.append(text)
            waits[text] = future
        if waits:
            assert self._wakeup is not None
            self._wakeup.set()
            # shielded: the futures are shared, cancelling one caller must not fail the others
            await asyncio.gather(*(asyncio.shield(future) for future in waits.values()))
        return np.stack([known[t] if t in known else waits[t].result() for t in texts])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.batch_size], self._queue[self.batch_size :]
                try:
                    vectors = await loop.run_in_executor(
                        self._executor, self.embedder.encode, batch
                    )
                except Exception as exc:  # surface to every waiter, keep the worker alive
                    for text in batch:
                        future = self._pending.pop(text)
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.texts_embedded += len(batch)
                for text, vector in zip(batch, vectors, strict=True):
                    self._remember(text, vector)
                    future = self._pending.pop(text)
                    if not future.done():
                        future.set_result(vector)

    def _remember(self, text: str, vector: np.ndarray) -> None:
        self._cache[text] = vector
        self._cache.move_to_end(text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def aclose(self) -> None:
        """Stop the worker and the thread."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
        self._executor.shutdown(wait=False, cancel_futures=True)
