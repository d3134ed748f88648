"""Cosine-similarity search over unit vectors with faiss (exact, HNSW above a size).

Vectors are unit-norm, so inner product = cosine. The original airoboros threshold
``min_docsearch_score`` t (squared L2 on unit vectors, ``d = 2 - 2 cos``) converts
exactly to ``cos >= 1 - t/2``.

Example:
    >>> import numpy as np
    >>> index = VectorIndex(dim=2)
    >>> index.add(np.array([[1.0, 0.0]], dtype=np.float32))
    >>> round(float(index.nearest(np.array([[0.6, 0.8]], dtype=np.float32))[0]), 3)
    0.6
"""

from __future__ import annotations

from typing import Any

import numpy as np

from airloom.errors import MissingDependencyError

__all__ = ["VectorIndex", "set_search_threads", "squared_l2_to_cosine"]


def squared_l2_to_cosine(threshold: float) -> float:
    """Convert the original's squared-L2 threshold to a cosine threshold.

    Example:
        >>> squared_l2_to_cosine(0.02)
        0.99
    """
    return round(1.0 - threshold / 2.0, 12)


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise MissingDependencyError(
            "faiss is needed for the dedup index", hint="pip install 'airloom[embed]'"
        ) from exc
    return faiss


def set_search_threads(threads: int) -> None:
    """Cap the threads of every search in this process (faiss runs them on OpenMP).

    The generation gate searches a few dozen vectors at a time on the event loop's
    thread, beside the embedding thread: there OpenMP's extra threads spin for the same
    two cores and cost about three times the CPU of one thread
    (``benchmarks/engine.py``). The generation engine sets it; the curation commands,
    which search a whole store at once, run in processes of their own and keep the
    default.

    Example:
        >>> set_search_threads(1)
    """
    _faiss().omp_set_num_threads(max(1, int(threads)))


class VectorIndex:
    """An inner-product index that switches to HNSW once it holds ``hnsw_above`` vectors."""

    def __init__(self, dim: int, *, hnsw_above: int = 200_000, hnsw_m: int = 32) -> None:
        self.dim = dim
        self.hnsw_above = hnsw_above
        self._hnsw_m = hnsw_m
        self._faiss = _faiss()
        self._index = self._faiss.IndexFlatIP(dim)
        self._exact = True

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def exact(self) -> bool:
        """True while the search is exhaustive."""
        return self._exact

    def add(self, vectors: np.ndarray) -> None:
        """Add unit vectors (rows)."""
        if len(vectors) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self._exact and len(self) + len(vectors) > self.hnsw_above:
            self._to_hnsw()
        self._index.add(vectors)

    def _to_hnsw(self) -> None:
        faiss = self._faiss
        stored = self._index.reconstruct_n(0, len(self)) if len(self) else None
        hnsw = faiss.IndexHNSWFlat(self.dim, self._hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = 64
        hnsw.hnsw.efConstruction = 80
        if stored is not None:
            hnsw.add(stored)
        self._index = hnsw
        self._exact = False

    def nearest(self, queries: np.ndarray) -> np.ndarray:
        """Best cosine of each query against the index (-1 where the index is empty)."""
        if len(queries) == 0:
            return np.zeros(0, dtype=np.float32)
        if len(self) == 0:
            return np.full(len(queries), -1.0, dtype=np.float32)
        scores, _ = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), 1)
        best: np.ndarray = scores[:, 0]
        return best

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best (cosines, row numbers) of each query; row -1 where there are fewer.

        Example:
            >>> index = VectorIndex(dim=2)
            >>> index.add(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
            >>> index.search(np.array([[1.0, 0.0]], dtype=np.float32), 3)[1].tolist()
            [[0, 1, -1]]
        """
        k = max(1, int(k))
        if len(queries) == 0 or len(self) == 0:
            shape = (len(queries), k)
            return np.full(shape, -1.0, dtype=np.float32), np.full(shape, -1, dtype=np.int64)
        scores, rows = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, rows
