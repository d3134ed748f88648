"""Near-duplicate clusters: union-find over the similarity graph of stored embeddings.

Two records are linked when their cosine is at or above the threshold of their scope
(a category, or every record at once) among each one's ``max_k`` nearest neighbours,
or when their exact-duplicate keys are equal. Clusters are the connected components,
so the result does not depend on the order records are visited in; each cluster is
named by its first member in input order.

Example:
    >>> import numpy as np
    >>> v = np.array([[1, 0], [0.999, 0.045], [0, 1]], dtype=np.float32)
    >>> near_duplicate_clusters(v, ["a", "a", "a"], {"a": 0.99})
    [0, 0, 2]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from airloom.vectors.index import VectorIndex

__all__ = ["UnionFind", "near_duplicate_clusters", "similarity_edges"]


class UnionFind:
    """Disjoint sets over 0..n-1; the root of a set is its smallest member.

    Example:
        >>> sets = UnionFind(4)
        >>> sets.union(3, 1); sets.union(1, 2)
        >>> [sets.find(i) for i in range(4)]
        [0, 1, 1, 1]
    """

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        """The root of ``item``'s set (paths are halved on the way)."""
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        """Join the sets of ``a`` and ``b`` (the smaller root wins)."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            low, high = sorted((root_a, root_b))
            self.parent[high] = low

    def labels(self) -> list[int]:
        """The root of every item."""
        return [self.find(i) for i in range(len(self.parent))]


def similarity_edges(
    vectors: np.ndarray, members: Sequence[int], threshold: float, max_k: int
) -> list[tuple[int, int, float]]:
    """Edges (i, j, cosine) with i < j among ``members`` whose cosine ≥ ``threshold``.

    Zero rows (records without an embedding) link to nothing.

    Example:
        >>> v = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
        >>> similarity_edges(v, [0, 1, 2], 0.9, 10)
        [(0, 1, 1.0)]
    """
    rows = [m for m in members if np.any(vectors[m])]
    if len(rows) < 2:
        return []
    index = VectorIndex(vectors.shape[1])
    index.add(vectors[rows])
    scores, hits = index.search(vectors[rows], min(len(rows), max_k + 1))
    edges: dict[tuple[int, int], float] = {}
    for position, member in enumerate(rows):
        for score, hit in zip(scores[position], hits[position], strict=True):
            if hit < 0 or score < threshold:
                continue
            other = rows[int(hit)]
            if other != member:
                key = (min(member, other), max(member, other))
                edges[key] = max(edges.get(key, -1.0), round(float(score), 6))
    return [(a, b, score) for (a, b), score in sorted(edges.items())]


def near_duplicate_clusters(
    vectors: np.ndarray,
    scopes: Sequence[str],
    thresholds: Mapping[str, float],
    *,
    max_k: int = 1000,
    exact_keys: Sequence[str] | None = None,
) -> list[int]:
    """The cluster (its first member's index) of every record.

    ``scopes`` names the group each record is compared within (its category, or one
    shared name); ``thresholds`` the cosine of each scope.
    """
    sets = UnionFind(len(scopes))
    groups: dict[str, list[int]] = {}
    for row, scope in enumerate(scopes):
        groups.setdefault(scope, []).append(row)
    for scope, members in groups.items():
        for a, b, _ in similarity_edges(vectors, members, thresholds[scope], max_k):
            sets.union(a, b)
    if exact_keys is not None:
        first: dict[tuple[str, str], int] = {}
        for row, (scope, key) in enumerate(zip(scopes, exact_keys, strict=True)):
            earlier = first.setdefault((scope, key), row)
            if earlier != row:
                sets.union(earlier, row)
    return sets.labels()
