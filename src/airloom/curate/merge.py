"""Merge dataset versions without duplicates (the m2.0 recipe: 2.0 + 1.4.1, no 'system').

Steps, for inputs A, B, … (stores or files in any readable shape):

1. categories are renamed (``renames``), then filtered: a record is dropped when its
   new or old category is in ``drop``, or when ``keep`` is given and neither is in it;
2. records are visited in precedence order (the inputs as given with ``first``, reversed
   with ``last``; each input in its own order); a record whose exact-duplicate key
   (its instruction, or its user turns, case and whitespace ignored) was seen is an
   exact duplicate; one whose cosine to a kept record is at or above ``threshold`` is a
   near duplicate. Stored embeddings are reused; only records without one are
   embedded, each distinct text once;
3. survivors are written in input order (A's, then B's, …), each with its provenance
   (input and position), and every drop is listed with its reason and the record that
   was kept instead.

Example:
    >>> from airloom.curate.sources import Dataset
    >>> from airloom.formats.records import make_record
    >>> a = Dataset("a", [make_record("general", "Name a river.", "Nile")])
    >>> b = Dataset("b", [make_record("general", "name a  river.", "Amazon"),
    ...                   make_record("system", "Be nice.", "OK")])
    >>> result = merge_datasets([a, b], MergeOptions(drop=frozenset({"system"}),
    ...                         embedding_model="hashing"))
    >>> [r.response for r in result.records], [d.reason for d in result.dropped]
    (['Nile'], ['exact duplicate', 'category dropped'])
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from airloom.curate.importer import embed_missing
from airloom.curate.sources import Dataset, read_dataset
from airloom.export.writers import write_dataset, write_lines_atomic
from airloom.formats.records import Record
from airloom.vectors.embed import make_embedder
from airloom.vectors.index import VectorIndex

__all__ = ["Dropped", "MergeOptions", "MergeResult", "Origin", "merge_datasets", "merge_sources"]


@dataclass(frozen=True)
class MergeOptions:
    """Filters, renames, precedence and the duplicate rules."""

    drop: frozenset[str] = frozenset()
    keep: frozenset[str] = frozenset()
    renames: dict[str, str] = field(default_factory=dict)
    precedence: str = "first"
    threshold: float = 0.9
    near: bool = True
    embedding_model: str = "hashing"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: input number and position in it."""

    source: int
    index: int


@dataclass(frozen=True, slots=True)
class Dropped:
    """A record left out, why, and (for duplicates) the record kept instead."""

    origin: Origin
    record_id: str
    category: str
    reason: str
    kept_instead: Origin | None = None
    similarity: float | None = None


@dataclass
class MergeResult:
    """Survivors in input order with their origins, drops, and the inputs."""

    sources: list[str]
    records: list[Record] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)
    vectors: np.ndarray | None = None
    dropped: list[Dropped] = field(default_factory=list)
    read: list[int] = field(default_factory=list)
    embedding_model: str | None = None
    embedded: int = 0
    #: source name -> (first problems, how many rows could not be read)
    unreadable: dict[str, tuple[list[str], int]] = field(default_factory=dict)

    def _name(self, source: int) -> str:
        return self.sources[source]

    def summary(self) -> dict[str, Any]:
        """Per input: records read, kept, and dropped by reason; and the totals."""
        inputs: dict[str, Counter[str]] = {}
        for number, name in enumerate(self.sources):
            inputs[f"{number}:{name}"] = Counter({"read": self.read[number], "kept": 0})
        for origin in self.origins:
            inputs[f"{origin.source}:{self._name(origin.source)}"]["kept"] += 1
        for drop in self.dropped:
            inputs[f"{drop.origin.source}:{self._name(drop.origin.source)}"][drop.reason] += 1
        totals: Counter[str] = Counter()
        for counts in inputs.values():
            totals.update(counts)
        return {
            "inputs": {name: dict(counts) for name, counts in inputs.items()},
            "totals": dict(totals),
            "embedded": self.embedded,
        }

    def provenance_rows(self) -> list[dict[str, Any]]:
        """One row per kept record: its output position, input and position there."""
        return [
            {
                "output_index": position,
                "id": record.id,
                "category": record.category,
                "input": self._name(origin.source),
                "input_number": origin.source,
                "input_index": origin.index,
                "renamed_from": record.meta.get("renamed_from"),
            }
            for position, (record, origin) in enumerate(
                zip(self.records, self.origins, strict=True)
            )
        ]

    def dropped_rows(self) -> list[dict[str, Any]]:
        """One row per dropped record, with the reason and what was kept instead."""
        rows = []
        for drop in self.dropped:
            row: dict[str, Any] = {
                "input": self._name(drop.origin.source),
                "input_index": drop.origin.index,
                "id": drop.record_id,
                "category": drop.category,
                "reason": drop.reason,
            }
            if drop.kept_instead is not None:
                row["kept_instead"] = {
                    "input": self._name(drop.kept_instead.source),
                    "input_index": drop.kept_instead.index,
                }
            if drop.similarity is not None:
                row["similarity"] = round(drop.similarity, 4)
            rows.append(row)
        return rows

    def write(self, out: str | Path, fmt: str | None = None, *, template: str | None = None) -> int:
        """The merged dataset plus OUT.provenance.jsonl, OUT.dropped.jsonl, OUT.summary.json."""
        out = Path(out)
        records = [
            r.with_meta(provenance=row)
            for r, row in zip(self.records, self.provenance_rows(), strict=True)
        ]
        written = write_dataset(
            records,
            out,
            fmt,
            template=template,
            vectors=self.vectors,
            embedding_model=self.embedding_model,
        )
        side, write = out.with_name, write_lines_atomic
        write(side(out.name + ".provenance.jsonl"), map(json.dumps, self.provenance_rows()))
        write(side(out.name + ".dropped.jsonl"), map(json.dumps, self.dropped_rows()))
        write(side(out.name + ".summary.json"), [json.dumps(self.summary(), indent=2)])
        return written


def _category_filter(record: Record, options: MergeOptions) -> tuple[Record, str | None]:
    old = record.category
    new = options.renames.get(old, old)
    if new != old:
        record = record.with_category(new).with_meta(renamed_from=old)
    if new in options.drop or old in options.drop:
        return record, "category dropped"
    if options.keep and new not in options.keep and old not in options.keep:
        return record, "category not kept"
    return record, None


def _vectors(
    datasets: Sequence[Dataset], options: MergeOptions, result: MergeResult
) -> list[np.ndarray]:
    """Stored vectors where usable; every other text embedded once across all inputs."""
    stored: list[np.ndarray | None] = [
        d.vectors if d.embedding_model == options.embedding_model else None for d in datasets
    ]
    texts: list[str] = []
    given: list[np.ndarray] = []
    for data, vectors in zip(datasets, stored, strict=True):
        texts.extend(r.dedup_text for r in data.records)
        if vectors is not None:
            given.append(vectors)
    dims = {v.shape[1] for v in given}
    width = dims.pop() if len(dims) == 1 else 0
    everything = None
    if width and all(v is not None for v in stored):
        everything = np.concatenate([v for v in stored if v is not None])
    if everything is not None and bool(np.all(np.any(everything, axis=1))):
        matrix = everything
    else:
        embedder = make_embedder(options.embedding_model)
        partial = None
        if width == embedder.dim:
            partial = np.concatenate(
                [
                    v if v is not None else np.zeros((len(d), width), np.float32)
                    for d, v in zip(datasets, stored, strict=True)
                ]
            )
        matrix, result.embedded = embed_missing(texts, partial, embedder)
    out, start = [], 0
    for data in datasets:
        out.append(matrix[start : start + len(data)])
        start += len(data)
    return out


@dataclass
class _Deduper:
    """Exact keys and a vector index of kept records, filled in precedence order."""

    threshold: float
    seen: dict[str, Origin] = field(default_factory=dict)
    index: VectorIndex | None = None
    holders: list[Origin] = field(default_factory=list)

    def chunk(
        self, items: list[tuple[Origin, Record, np.ndarray | None]], result: MergeResult
    ) -> list[tuple[Origin, Record, np.ndarray | None]]:
        """Decide a chunk: against kept records in one search, then within the chunk."""
        with_vectors = [v for _, _, v in items if v is not None and np.any(v)]
        prior: dict[int, tuple[float, int]] = {}
        if with_vectors and self.index is not None and len(self.index):
            scores, rows = self.index.search(np.stack(with_vectors), 1)
            slots = [i for i, (_, _, v) in enumerate(items) if v is not None and np.any(v)]
            prior = {slot: (float(scores[n, 0]), int(rows[n, 0])) for n, slot in enumerate(slots)}
        kept: list[tuple[Origin, Record, np.ndarray | None]] = []
        fresh: list[np.ndarray] = []
        fresh_origins: list[Origin] = []
        for slot, (origin, record, vector) in enumerate(items):
            key = record.exact_key
            if key in self.seen:
                result.dropped.append(
                    Dropped(origin, record.id, record.category, "exact duplicate", self.seen[key])
                )
                continue
            if slot in prior or (fresh and vector is not None and np.any(vector)):
                best, holder = prior.get(slot, (-1.0, -1))
                holder_origin = self.holders[holder] if holder >= 0 else None
                if fresh and vector is not None:
                    within = np.stack(fresh) @ vector
                    top = int(np.argmax(within))
                    if float(within[top]) > best:
                        best, holder_origin = float(within[top]), fresh_origins[top]
                if holder_origin is not None and best >= self.threshold:
                    result.dropped.append(
                        Dropped(
                            origin, record.id, record.category, "near duplicate",
                            holder_origin, best,
                        )
                    )  # fmt: skip
                    continue
            self.seen[key] = origin
            if vector is not None and np.any(vector):
                fresh.append(vector)
                fresh_origins.append(origin)
            kept.append((origin, record, vector))
        if fresh:
            if self.index is None:
                self.index = VectorIndex(len(fresh[0]))
            self.index.add(np.stack(fresh))
            self.holders.extend(fresh_origins)
        return kept


def merge_datasets(
    datasets: Sequence[Dataset], options: MergeOptions, *, chunk_size: int = 512
) -> MergeResult:
    """Merge already-read datasets (module docstring)."""
    result = MergeResult([Path(d.source).name for d in datasets], read=[len(d) for d in datasets])
    result.embedding_model = options.embedding_model
    result.unreadable = {
        Path(d.source).name: (list(d.problems), d.problem_count)
        for d in datasets
        if d.problem_count
    }
    vectors = _vectors(datasets, options, result) if options.near else None
    order = list(range(len(datasets)))
    if options.precedence == "last":
        order.reverse()
    deduper = _Deduper(options.threshold)
    survivors: list[tuple[Origin, Record, np.ndarray | None]] = []
    pending: list[tuple[Origin, Record, np.ndarray | None]] = []
    for source in order:
        for position, original in enumerate(datasets[source].records):
            origin = Origin(source, position)
            record, reason = _category_filter(original, options)
            if reason is not None:
                result.dropped.append(Dropped(origin, record.id, record.category, reason))
                continue
            vector = None if vectors is None else vectors[source][position]
            pending.append((origin, record, vector))
            if len(pending) >= chunk_size:
                survivors.extend(deduper.chunk(pending, result))
                pending = []
    survivors.extend(deduper.chunk(pending, result))
    survivors.sort(key=lambda item: (item[0].source, item[0].index))
    result.records = [record for _, record, _ in survivors]
    result.origins = [origin for origin, _, _ in survivors]
    if vectors is not None and survivors:
        result.vectors = np.stack([vectors[o.source][o.index] for o in result.origins])
    result.dropped.sort(key=lambda d: (d.origin.source, d.origin.index))
    return result


def merge_sources(sources: Sequence[str | Path], options: MergeOptions) -> MergeResult:
    """Read every source (stores or files) and merge them."""
    return merge_datasets([read_dataset(source) for source in sources], options)
