"""Import published datasets into a store, each text embedded exactly once.

Records already in the store (same id) are skipped without being embedded again; a
store given as a source brings its stored vectors along when it was embedded with the
same model; identical texts within one import share one embedding. Each imported
record remembers where it came from in ``meta["import"]``.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.jsonl").write_text('{"instruction": "q", "response": "r"}\\n')
    >>> summary = import_datasets([folder / "a.jsonl"], folder / "s.db", embedding_model="hashing")
    >>> summary.imported, summary.embedded
    (1, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from airloom.curate.sources import Dataset, read_dataset
from airloom.formats.records import Record
from airloom.store.database import Store
from airloom.vectors.embed import Embedder, make_embedder

__all__ = ["ImportSummary", "Progress", "SourceSummary", "embed_missing", "import_datasets"]

Progress = Callable[[str, int, int], None]


@dataclass
class SourceSummary:
    """What one source contributed."""

    source: str
    read: int = 0
    imported: int = 0
    present: int = 0
    problems: list[str] = field(default_factory=list)
    unreadable: int = 0


@dataclass
class ImportSummary:
    """What an import did, per source and in total."""

    store: str
    sources: list[SourceSummary] = field(default_factory=list)
    embedded: int = 0

    @property
    def imported(self) -> int:
        """Records added to the store."""
        return sum(s.imported for s in self.sources)


def embed_missing(
    texts: Sequence[str],
    vectors: np.ndarray | None,
    embedder: Embedder,
    *,
    batch_size: int = 256,
    progress: Progress | None = None,
) -> tuple[np.ndarray, int]:
    """Rows for ``texts``: the given vector where it is non-zero, else a new embedding.

    Identical texts are embedded once. Returns (matrix, number of texts embedded).

    Example:
        >>> from airloom.vectors.embed import HashingEmbedder
        >>> matrix, n = embed_missing(["a b", "a b", "c"], None, HashingEmbedder(dim=8))
        >>> matrix.shape, n
        ((3, 8), 2)
    """
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    todo: dict[str, list[int]] = {}
    for row, text in enumerate(texts):
        if vectors is not None and vectors.shape[1] == embedder.dim and np.any(vectors[row]):
            out[row] = vectors[row]
        else:
            todo.setdefault(text, []).append(row)
    unique = list(todo)
    for start in range(0, len(unique), batch_size):
        chunk = unique[start : start + batch_size]
        encoded = embedder.encode(chunk)
        for text, vector in zip(chunk, encoded, strict=True):
            out[todo[text]] = vector
        if progress is not None:
            progress("embedding", min(start + batch_size, len(unique)), len(unique))
    return out, len(unique)


def _stored(record: Record, vector: np.ndarray, source: str, index: int) -> Record:
    if "import" not in record.meta:
        record = record.with_meta(**{"import": {"source": source, "index": index}})
    return record.with_embedding(vector, record.exact_key)


def _import_one(
    store: Store,
    data: Dataset,
    known: set[str],
    embedder: Embedder,
    summary: ImportSummary,
    progress: Progress | None,
) -> None:
    part = SourceSummary(
        data.source, read=len(data), problems=list(data.problems), unreadable=data.problem_count
    )
    summary.sources.append(part)
    fresh = [i for i, r in enumerate(data.records) if r.id not in known]
    part.present = len(data) - len(fresh)
    reuse = data.vectors if data.embedding_model == embedder.name else None
    vectors = None if reuse is None else reuse[fresh]
    texts = [data.records[i].dedup_text for i in fresh]
    matrix, embedded = embed_missing(texts, vectors, embedder, progress=progress)
    summary.embedded += embedded
    name = Path(data.source).name
    batch: list[Record] = []
    for row, index in enumerate(fresh):
        record = data.records[index]
        if record.id in known:  # the same id twice in one source
            part.present += 1
            continue
        known.add(record.id)
        part.imported += 1
        batch.append(_stored(record, matrix[row], name, index))
        if len(batch) >= 1000:
            store.commit_batch(batch)
            batch = []
    store.commit_batch(batch)


def import_datasets(
    sources: Sequence[str | Path],
    store_path: str | Path,
    *,
    embedding_model: str,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import every source into ``store_path`` (created when missing)."""
    embedder = embedder or make_embedder(embedding_model)
    summary = ImportSummary(str(store_path))
    with Store.open(store_path, embedding_model=embedder.name) as store:
        known = set(store.load_index_data()[0])
        for source in sources:
            _import_one(store, read_dataset(source), known, embedder, summary, progress)
    return summary
