"""The numbers behind the dataset report, read from a store without changing it.

Example:
    >>> distinct_n(["the cat sat", "the cat ran"], 1)
    0.667
    >>> import numpy as np
    >>> dispersion(np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32))
    0.0
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from airloom.curate.sources import read_store
from airloom.reasons import Reason
from airloom.vectors.index import VectorIndex

__all__ = [
    "CategoryFacts",
    "ReportData",
    "collect",
    "dispersion",
    "distinct_n",
    "nearest_similarities",
    "words",
]

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased words of a text.

    Example:
        >>> words("Hello, World!")
        ['hello', 'world']
    """
    return _WORD.findall(text.lower())


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of the texts (0 when there are none), 3 decimals."""
    grams: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        tokens = words(text)
        grams.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    total = sum(grams.values())
    return round(len(grams) / total, 3) if total else 0.0


def dispersion(vectors: np.ndarray) -> float:
    """Mean cosine distance of unit vectors to their normalised centroid (0: all alike)."""
    rows = vectors[np.any(vectors, axis=1)] if len(vectors) else vectors
    if len(rows) < 2:
        return 0.0
    centroid = rows.mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    if norm == 0.0:
        return 1.0
    return round(float(np.mean(1.0 - rows @ (centroid / norm))), 4)


def nearest_similarities(vectors: np.ndarray) -> np.ndarray:
    """Each record's cosine to its nearest other record (records without a vector left out).

    Example:
        >>> v = np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
        >>> [round(float(x), 2) for x in nearest_similarities(v)]
        [0.6, 0.8, 0.8]
    """
    rows = vectors[np.any(vectors, axis=1)] if len(vectors) else vectors
    if len(rows) < 2:
        return np.zeros(0, dtype=np.float32)
    index = VectorIndex(rows.shape[1])
    index.add(rows)
    scores, hits = index.search(rows, 2)
    own = hits == np.arange(len(rows))[:, None]
    best = np.where(own[:, 0], scores[:, 1], scores[:, 0])
    return best.astype(np.float32)


@dataclass
class CategoryFacts:
    """Per-category numbers."""

    records: int = 0
    units: int = 0
    instruction_words: list[int] = field(default_factory=list)
    response_words: list[int] = field(default_factory=list)
    distinct_1: float = 0.0
    distinct_2: float = 0.0
    response_distinct_2: float = 0.0
    dispersion: float = 0.0
    topics: int = 0
    judge: Counter[str] = field(default_factory=Counter)
    verify: Counter[str] = field(default_factory=Counter)


@dataclass
class ReportData:
    """Everything the report shows."""

    store: str
    embedding_model: str | None
    categories: dict[str, CategoryFacts] = field(default_factory=dict)
    nearest: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    rejects: list[tuple[float, str, str]] = field(default_factory=list)
    topic_counts: Counter[str] = field(default_factory=Counter)
    topics_known: int | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    spending: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_records(self) -> int:
        """Records in the store."""
        return sum(c.records for c in self.categories.values())


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchall()
    except sqlite3.OperationalError:  # a table an older store does not have
        return []
    finally:
        connection.close()


def _verdicts(path: Path, kind: str) -> list[tuple[str, str]]:
    """(category, status) of the newest verdict of ``kind`` per record content."""
    rows = _query(
        path,
        "SELECT category, status, record_hash, created_at FROM curate_verdicts"
        f" WHERE kind = '{kind}' ORDER BY created_at",
    )
    newest: dict[str, tuple[str, str]] = {}
    for category, status, key, _ in rows:
        newest[key] = (str(category), str(status))
    return list(newest.values())


def _spending(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    runs = []
    for run_id, started, finished, status, config in _query(
        path, "SELECT run_id, started_at, finished_at, status, config FROM runs ORDER BY started_at"
    ):
        try:
            kind = json.loads(config or "{}").get("curation") or "generate"
        except (json.JSONDecodeError, AttributeError):
            kind = "generate"
        runs.append(
            {
                "run_id": run_id,
                "kind": kind,
                "started": started,
                "finished": finished,
                "status": status,
            }
        )
    kinds = {run["run_id"]: run["kind"] for run in runs}
    spending = [
        {
            "kind": kinds.get(run_id, "generate"),
            "run_id": run_id,
            "model": model,
            "requests": int(requests),
            "prompt_tokens": int(prompt),
            "completion_tokens": int(completion),
            "cost": float(cost),
        }
        for run_id, model, requests, prompt, completion, cost in _query(
            path,
            "SELECT run_id, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost)"
            " FROM request_cache GROUP BY run_id, model ORDER BY MIN(created_at)",
        )
    ]
    return runs, spending


def collect(store_path: str | Path, topics_path: str | Path | None = None) -> ReportData:
    """Read a store (read-only) and compute every figure of the report."""
    path = Path(store_path)
    data = read_store(path)
    report = ReportData(str(path), data.embedding_model)
    vectors = (
        data.vectors
        if data.vectors is not None
        else np.zeros((len(data.records), 0), dtype=np.float32)
    )
    by_category: dict[str, list[int]] = {}
    for row, record in enumerate(data.records):
        by_category.setdefault(record.category, []).append(row)
        if record.topic:
            report.topic_counts[record.topic] += 1
    for category, rows in sorted(by_category.items()):
        records = [data.records[i] for i in rows]
        facts = report.categories[category] = CategoryFacts(records=len(rows))
        facts.units = len({r.unit for r in records})
        instructions = ["\n".join(r.user_texts) for r in records]
        responses = ["\n".join(r.assistant_texts) for r in records]
        facts.instruction_words = [len(words(t)) for t in instructions]
        facts.response_words = [len(words(t)) for t in responses]
        facts.distinct_1 = distinct_n(instructions, 1)
        facts.distinct_2 = distinct_n(instructions, 2)
        facts.response_distinct_2 = distinct_n(responses, 2)
        facts.dispersion = dispersion(vectors[rows]) if vectors.shape[1] else 0.0
        facts.topics = len({r.topic for r in records if r.topic})
    if vectors.shape[1]:
        report.nearest = nearest_similarities(vectors)
    report.rejects = [
        (float(at), str(category), str(Reason.parse(str(reason))))
        for at, category, reason in _query(
            path, "SELECT created_at, category, reason FROM rejects ORDER BY created_at"
        )
    ]
    for kind in ("judge", "verify"):
        for category, status in _verdicts(path, kind):
            facts = report.categories.setdefault(category, CategoryFacts())
            getattr(facts, kind)[status] += 1
    report.runs, report.spending = _spending(path)
    if topics_path is not None and Path(topics_path).exists():
        lines = Path(topics_path).read_text(encoding="utf-8").splitlines()
        report.topics_known = len({line.strip() for line in lines if line.strip()})
    return report
