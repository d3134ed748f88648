"""Read datasets: airloom stores and published airoboros files, in any of their shapes.

* 2.x JSONL rows: ``instruction``, ``response``, ``category``, ``system``,
  ``skip_prompt_formatting``, ``conversation`` (other fields are kept in
  ``meta["fields"]``);
* 3.x ShareGPT objects: ``id``, ``category``, ``conversations`` of ``from``/``value``
  turns (``system``, ``human``, ``gpt``), or ``messages`` of ``role``/``content``;
* a JSON array of either (``as_conversations.json``), a parquet file, a folder of
  parquet files, or a Hugging Face ``save_to_disk`` folder (these need the ``hf``
  extra: ``pip install 'airloom[hf]'``);
* an airloom store (its stored embeddings come with it: nothing is re-embedded).

A malformed row is skipped and reported with its file and line, never silently: invalid
JSON, text that is not UTF-8 (a binary file), a lone surrogate (``"\\ud800"``), nesting
deeper than :data:`MAX_DEPTH`, a line longer than :data:`MAX_LINE_BYTES` or a record with
more than :data:`MAX_RECORD_CHARS` characters of text. The good rows of the same file are
kept. The first :data:`MAX_PROBLEMS` problems are listed, the rest only counted.

Rows become records through :func:`airloom.formats.rows.record_from_row`.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
    >>> _ = p.write_text('{"id": "x1", "instruction": "Capital of Peru?", "response": "Lima."}')
    >>> [(r.id, r.category) for r in read_dataset(p).records]
    [('x1', 'general')]
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from airloom.errors import StoreError, require
from airloom.formats.records import Record
from airloom.formats.rows import RowError, record_from_row
from airloom.store.database import Store, corrupt_error

__all__ = [
    "MAX_DEPTH",
    "MAX_LINE_BYTES",
    "MAX_PROBLEMS",
    "MAX_RECORD_CHARS",
    "Dataset",
    "embedding_matrix",
    "is_store_file",
    "parse_json_line",
    "read_dataset",
    "read_store",
    "row_problem",
]

#: Longest line of a JSONL file read (longer ones are skipped and counted).
MAX_LINE_BYTES = 8 << 20
#: Most characters of text in one record (instruction, response, system, turns together).
MAX_RECORD_CHARS = 1 << 20
#: Deepest nesting of lists and objects in one row.
MAX_DEPTH = 64
#: Problems listed per source (the rest are counted).
MAX_PROBLEMS = 100
_SURROGATE = re.compile("[\ud800-\udfff]")


def row_problem(row: Any) -> str | None:
    """Why a parsed row cannot be a record (too deep, too long, a lone surrogate), or None.

    Example:
        >>> row_problem({"instruction": json.loads('"a\\\\ud800"'), "response": "b"})
        "a string holds a lone surrogate ('\\\\ud800'), which is not text"
        >>> row_problem([[[[1]]]]) is None, row_problem({"a": "x" * (MAX_RECORD_CHARS + 1)})
        (True, 'the row holds more than 1,048,576 characters of text')
    """
    chars = 0
    todo: list[tuple[Any, int]] = [(row, 0)]
    while todo:
        value, depth = todo.pop()
        if depth > MAX_DEPTH:
            return f"the row is nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, str):
            chars += len(value)
            found = _SURROGATE.search(value)
            if found:
                return f"a string holds a lone surrogate ({found.group(0)!r}), which is not text"
        elif isinstance(value, Mapping):
            todo.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list | tuple):
            todo.extend((item, depth + 1) for item in value)
        if chars > MAX_RECORD_CHARS:
            return f"the row holds more than {MAX_RECORD_CHARS:,} characters of text"
    return None


def parse_json_line(line: bytes) -> Any:
    """One JSONL line as a value, or :class:`RowError` saying what is wrong with it.

    Example:
        >>> parse_json_line(b'{"a": 1}')
        {'a': 1}
        >>> parse_json_line(b"\\xff\\xfe{}")
        Traceback (most recent call last):
        ...
        airloom.formats.rows.RowError: not UTF-8 text (bad byte at column 1); is it a binary file?
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RowError(
            f"not UTF-8 text (bad byte at column {exc.start + 1}); is it a binary file?"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError(f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise RowError("the row is nested too deeply to read") from None


@dataclass
class Dataset:
    """Records read from one source; ``vectors`` rows align with them (zero: missing)."""

    source: str
    records: list[Record] = field(default_factory=list)
    vectors: np.ndarray | None = None
    embedding_model: str | None = None
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def add_problem(self, problem: str) -> None:
        """Count an unreadable row; list it while fewer than :data:`MAX_PROBLEMS` are."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def _lines(handle: IO[bytes]) -> Iterator[bytes | None]:
    """The lines of a file, ``None`` for one longer than :data:`MAX_LINE_BYTES` (skipped
    without being held in memory)."""
    while line := handle.readline(MAX_LINE_BYTES + 1):
        if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
            yield line
            continue
        while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        yield None


def _rows_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open("rb") as handle:
        for number, line in enumerate(_lines(handle), start=1):
            where = f"{path.name} line {number}"
            if line is None:
                yield where, RowError(f"the line is longer than {MAX_LINE_BYTES >> 20} MiB")
            elif line.strip():
                try:
                    yield where, parse_json_line(line)
                except RowError as exc:
                    yield where, exc


def _rows_json(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    if not head.startswith(b"["):
        yield from _rows_jsonl(path)
        return
    try:
        rows = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StoreError(
            f"{path} is not UTF-8 text (bad byte at offset {exc.start})",
            hint="is it a binary file? pass a JSON or JSONL dataset",
        ) from None
    except RecursionError:
        raise StoreError(f"{path} is nested too deeply to read") from None
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    if not isinstance(rows, list):
        raise StoreError(f"{path} is not a JSON array of rows")
    for number, row in enumerate(rows, start=1):
        yield f"{path.name} item {number}", row


def _rows_parquet(paths: Iterable[Path]) -> Iterator[tuple[str, Any]]:
    parquet = require("pyarrow.parquet", "hf", "reading parquet")
    for path in paths:
        table = parquet.read_table(str(path))
        for number, row in enumerate(table.to_pylist(), start=1):
            yield f"{path.name} row {number}", row


def _rows_hf_dir(path: Path) -> Iterator[tuple[str, Any]]:
    datasets = require("datasets", "hf", "reading a Hugging Face dataset folder")
    loaded = datasets.load_from_disk(str(path))
    splits = (
        [(name, loaded[name]) for name in sorted(loaded)]
        if isinstance(loaded, datasets.DatasetDict)
        else [("", loaded)]
    )
    for split, table in splits:
        for number, row in enumerate(table, start=1):
            yield f"{path.name}{'/' + split if split else ''} row {number}", row


def is_store_file(path: Path) -> bool:
    """True for an SQLite file (an airloom store).

    Example:
        >>> is_store_file(Path("/nonexistent.db"))
        False
    """
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def _rows(path: Path) -> Iterator[tuple[str, Any]]:
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return _rows_hf_dir(path)
        files = sorted(path.rglob("*.parquet"))
        if files:
            return _rows_parquet(files)
        raise StoreError(
            f"{path} is a folder with neither a saved dataset nor parquet files",
            hint="pass a .jsonl/.json/.parquet file, a save_to_disk folder or a store",
        )
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _rows_parquet([path])
    if suffix == ".json":
        return _rows_json(path)
    return _rows_jsonl(path)


def read_store(path: Path) -> Dataset:
    """Records of a store with their stored embeddings (in acceptance order)."""
    with Store.open(path, create=False, read_only=True) as store:
        try:
            records = list(store.iter_records(embeddings=True))
            model = store.get_meta("embedding_model")
        except sqlite3.DatabaseError as exc:
            raise corrupt_error(path, str(exc)) from None
    return Dataset(str(path), records, embedding_matrix(records), model)


def embedding_matrix(records: Sequence[Record]) -> np.ndarray | None:
    """The records' embeddings as rows (a zero row where one has none); None when none has.

    Example:
        >>> from airloom.formats.records import make_record
        >>> embedding_matrix([make_record("g", "q", "a")]) is None
        True
    """
    dim = next((len(r.embedding) for r in records if r.embedding is not None), 0)
    if not dim:
        return None
    matrix = np.zeros((len(records), dim), dtype=np.float32)
    for row, record in enumerate(records):
        if record.embedding is not None and len(record.embedding) == dim:
            matrix[row] = record.embedding
    return matrix


def read_dataset(path: str | Path) -> Dataset:
    """Read a store, or a file/folder in any published shape (module docstring).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
        >>> _ = p.write_text('{"instruction": "a", "response": "b"}\\nnot json\\n')
        >>> data = read_dataset(p)
        >>> len(data), data.problems
        (1, ['d.jsonl line 2: invalid JSON: Expecting value'])
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path} does not exist", hint="check the path")
    if is_store_file(path):
        return read_store(path)
    if path.suffix.lower() in (".db", ".sqlite", ".sqlite3") and path.is_file():
        raise StoreError(
            f"{path} is not an SQLite store (if it was one, its first page is damaged)",
            hint="pass a store or a dataset file (JSONL, JSON, parquet, a Hugging Face folder)",
        )
    data = Dataset(str(path))
    for where, row in _rows(path):
        try:
            if isinstance(row, RowError):
                raise row
            problem = row_problem(row)
            if problem is not None:
                raise RowError(problem)
            data.records.append(record_from_row(row))
        except RowError as exc:
            data.add_problem(f"{where}: {exc.message}")
    return data
