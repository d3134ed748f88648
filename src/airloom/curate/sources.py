"""Read datasets: airloom stores and published airoboros files, in any of their shapes.

* 2.x JSONL rows: ``instruction``, ``response``, ``category``, ``system``,
  ``skip_prompt_formatting`` (other fields are kept in ``meta["fields"]``);
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

Example:
    >>> row = {"id": "x1", "category": "trivia", "conversations": [
    ...     {"from": "system", "value": "Be brief."},
    ...     {"from": "human", "value": "Capital of Peru?"},
    ...     {"from": "gpt", "value": "Lima."}]}
    >>> record = record_from_row(row)
    >>> record["id"], record["system"], record["instruction"], record["conversation"]
    ('x1', 'Be brief.', 'Capital of Peru?', None)
"""

from __future__ import annotations

import importlib
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from airloom.curate.records import make_record
from airloom.errors import AirloomError, MissingDependencyError, StoreError
from airloom.store.database import Store, corrupt_error

_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "bot": "assistant",
}
_KNOWN_FIELDS = {
    "id",
    "category",
    "instruction",
    "response",
    "system",
    "skip_prompt_formatting",
    "conversations",
    "messages",
}


class RowError(AirloomError):
    """One row of a dataset file cannot be read as a record."""


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
        airloom.curate.sources.RowError: not UTF-8 text (bad byte at column 1); is it a binary file?
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


def require(module: str, extra: str, purpose: str) -> Any:
    """Import an optional dependency or raise a clear :class:`MissingDependencyError`.

    Example:
        >>> require("json", "hf", "reading JSON").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the '{module}' package, which is not installed",
            hint=f"pip install 'airloom[{extra}]'",
        ) from exc


def _turns(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise RowError("'conversations' must be a non-empty list of turns")
    turns = []
    for position, turn in enumerate(raw, start=1):
        if not isinstance(turn, Mapping):
            raise RowError(f"turn {position} is not an object")
        speaker = turn.get("from", turn.get("role"))
        text = turn.get("value", turn.get("content"))
        role = _ROLES.get(str(speaker).lower()) if speaker is not None else None
        if role is None or not isinstance(text, str):
            raise RowError(f"turn {position} has an unknown speaker {speaker!r} or no text")
        turns.append({"role": role, "content": text})
    return turns


def _from_conversation(row: Mapping[str, Any], raw: Any) -> dict[str, Any]:
    turns = _turns(raw)
    system = None
    if turns[0]["role"] == "system":
        system = turns.pop(0)["content"]
    for index, turn in enumerate(turns):
        expected = "user" if index % 2 == 0 else "assistant"
        if turn["role"] != expected:
            raise RowError(f"turn {index + 1} after the system turn should be {expected}")
    if len(turns) < 2 or turns[-1]["role"] != "assistant":
        raise RowError("a conversation needs a human turn and must end with a gpt turn")
    conversation = turns if len(turns) > 2 else None
    row_id = row.get("id")
    return make_record(
        str(row.get("category") or "general"),
        turns[0]["content"],
        turns[-1]["content"],
        system=system,
        conversation=conversation,
        skip_prompt_formatting=bool(row.get("skip_prompt_formatting")),
        record_id_=str(row_id) if row_id not in (None, "") else None,
        meta=_extra(row),
    )


def _extra(row: Mapping[str, Any]) -> dict[str, Any]:
    extra = {k: v for k, v in row.items() if k not in _KNOWN_FIELDS}
    return {"fields": extra} if extra else {}


def record_from_row(row: Any) -> dict[str, Any]:
    """One published row (2.x or ShareGPT) as a record; :class:`RowError` if it is neither.

    Example:
        >>> record_from_row({"instruction": "Hi?", "response": "Hello.",
        ...                  "skip_prompt_formatting": True})["category"]
        'general'
    """
    if not isinstance(row, Mapping):
        raise RowError(f"a row must be a JSON object, not {type(row).__name__}")
    for key in ("conversations", "messages"):
        if row.get(key) is not None:
            return _from_conversation(row, row[key])
    instruction, response = row.get("instruction"), row.get("response")
    if not isinstance(instruction, str) or not isinstance(response, str):
        raise RowError("a row needs 'instruction' and 'response' strings or 'conversations'")
    system = row.get("system")
    row_id = row.get("id")
    return make_record(
        str(row.get("category") or "general"),
        instruction,
        response,
        system=system if isinstance(system, str) else None,
        skip_prompt_formatting=bool(row.get("skip_prompt_formatting")),
        record_id_=str(row_id) if row_id not in (None, "") else None,
        meta=_extra(row),
    )


@dataclass
class Dataset:
    """Records read from one source; ``vectors`` rows align with them (zero: missing)."""

    source: str
    records: list[dict[str, Any]] = field(default_factory=list)
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
            records = list(store.iter_records())
            ids, _, _, matrix = store.load_index_data()
            model = store.get_meta("embedding_model")
        except sqlite3.DatabaseError as exc:
            raise corrupt_error(path, str(exc)) from None
    if [r["id"] for r in records] != ids:  # pragma: no cover - same query order
        raise StoreError(f"{path}: records and embeddings disagree", hint="run the command again")
    vectors = matrix if matrix.shape[1] else None
    return Dataset(str(path), records, vectors, model)


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
