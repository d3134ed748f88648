"""Copy what is readable of a damaged store into a new one (``airloom recover``).

The damaged file is opened read-only and never changed. Rows are read by ``rowid`` in
chunks; a chunk that hits a damaged page is read again row by row, and the rows that
still cannot be read are counted. Records (with their embeddings and provenance), the
request cache (calls already paid for) and the round bookkeeping go into the new store
through the ordinary :class:`~airloom.store.database.Store` API, so the result is a sound
store that ``generate`` can resume.

Example::

    summary = recover_store(Path("broken.airloom.db"), Path("rescued.airloom.db"))
    print(summary.records, summary.unreadable)
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airloom.errors import StoreError
from airloom.store.database import (
    RECORD_COLUMNS,
    CachedCall,
    Store,
    corrupt_error,
    read_only_connection,
    record_from_columns,
)

__all__ = ["RecoverSummary", "readable_rows", "recover_store"]

_RECORD_COLUMNS = RECORD_COLUMNS + ", embedding"
_CACHE_COLUMNS = (
    "key, model, endpoint, text, finish_reason, prompt_tokens, completion_tokens, cost, run_id"
)
_CHUNK = 256
_GIVE_UP_AFTER = 64  # consecutive unreadable chunks past the known end


@dataclass
class RecoverSummary:
    """What was copied and what could not be read."""

    records: int = 0
    unreadable: int = 0
    cached_calls: int = 0
    rounds: int = 0


def readable_rows(
    db: sqlite3.Connection, table: str, columns: str
) -> Iterator[tuple[Any, ...] | None]:
    """Every readable row of ``table`` in rowid order; ``None`` for each row slot that
    cannot be read (a damaged page)."""
    top, known_end = 1 << 40, False
    for sql in (
        f"SELECT MAX(rowid) FROM {table}",
        f"SELECT seq FROM sqlite_sequence WHERE name = '{table}'",  # AUTOINCREMENT tables
    ):
        try:
            found = db.execute(sql).fetchone()
        except sqlite3.DatabaseError as exc:
            if "no such table" in str(exc) and table in str(exc):
                return
            continue
        top, known_end = (int(found[0] or 0) if found else 0), True
        break
    empty = 0
    sql = f"SELECT rowid, {columns} FROM {table} WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
    seen: set[int] = set()

    def fresh(rows: list[Any], start: int, end: int) -> list[tuple[Any, ...]]:
        # a damaged b-tree can hand back a row twice or from elsewhere: keep each once
        kept = [row for row in rows if start <= row[0] <= end and row[0] not in seen]
        seen.update(row[0] for row in kept)
        return [tuple(row[1:]) for row in kept]

    for start in range(1, top + 1, _CHUNK):
        end = min(top, start + _CHUNK - 1)
        try:
            rows = fresh(db.execute(sql, (start, end)).fetchall(), start, end)
        except sqlite3.DatabaseError:
            rows = None
        if rows is not None:
            yield from rows
            empty = 0 if rows else empty + 1
            continue
        found = False
        for rowid in range(start, end + 1):
            try:
                yield from fresh(db.execute(sql, (rowid, rowid)).fetchall(), rowid, rowid)
                found = True
            except sqlite3.DatabaseError:
                yield None
        empty = 0 if found else empty + 1
        if not known_end and empty >= _GIVE_UP_AFTER:
            return


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}
    except sqlite3.DatabaseError:
        return {}


def _copy_records(
    db: sqlite3.Connection,
    target: Store,
    summary: RecoverSummary,
    progress: Callable[[int], None] | None,
) -> None:
    names = [name.strip() for name in _RECORD_COLUMNS.split(",")]
    batch = []
    for row in readable_rows(db, "records", _RECORD_COLUMNS):
        if row is None:
            summary.unreadable += 1
            continue
        try:
            batch.append(record_from_columns(dict(zip(names, row, strict=True))))
        except (ValueError, TypeError, KeyError):
            summary.unreadable += 1
            continue
        if len(batch) >= 500:
            target.commit_batch(batch)
            batch = []
            if progress is not None:
                progress(target.record_count())
    target.commit_batch(batch)
    summary.records = target.record_count()


def recover_store(
    source: Path,
    target: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> RecoverSummary:
    """Copy the readable records, request cache and rounds of ``source`` into the new
    store ``target`` (module docstring)."""
    if target.exists():
        raise StoreError(f"{target} already exists", hint="give recover a new file name")
    if not source.is_file():
        raise StoreError(f"{source} does not exist", hint="check the path")
    with tempfile.TemporaryDirectory(prefix="airloom-recover-") as scratch:
        copy = _working_copy(source, Path(scratch))
        try:
            db = read_only_connection(copy)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"nothing of {source} is readable ({exc})",
                hint="its first page is damaged; restore it from a backup",
            ) from None
        return _recover(db, source, target, progress)


def _working_copy(source: Path, folder: Path) -> Path:
    """A copy of the store (and its write-ahead log) to read from, padded with empty
    pages to the size its header records (SQLite refuses a file cut short: the schema
    would point past its end): the original is never opened."""
    copy = folder / "copy.db"
    shutil.copyfile(source, copy)
    for suffix in ("-wal",):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{copy}{suffix}")
    with open(copy, "rb+") as handle:
        header = handle.read(100)
        page = int.from_bytes(header[16:18], "big") if len(header) >= 18 else 0
        page = 65536 if page == 1 else page
        pages = int.from_bytes(header[28:32], "big") if len(header) >= 32 else 0
        size = handle.seek(0, os.SEEK_END)
        if page >= 512:
            wanted = max(-(-size // page), min(pages, size // page * 4 + 16)) * page
            handle.write(bytes(wanted - size))
    return copy


def _recover(
    db: sqlite3.Connection,
    source: Path,
    target: Path,
    progress: Callable[[int], None] | None,
) -> RecoverSummary:
    summary = RecoverSummary()
    try:
        meta = _meta(db)
        with Store.open(
            target,
            embedding_model=meta.get("embedding_model"),
            output_path=meta.get("output_path"),
        ) as rescued:
            _copy_records(db, rescued, summary, progress)
            for row in readable_rows(db, "request_cache", _CACHE_COLUMNS):
                if row is None:
                    continue
                key, model, endpoint, text, finish, prompt, completion, cost, run_id = row
                call = CachedCall(text, finish, int(prompt), int(completion), float(cost))
                rescued.cache_put(key, call, model=model, endpoint=endpoint, run_id=run_id)
                summary.cached_calls += 1
            rounds = [row for row in readable_rows(db, "rounds", "category, idx, done") if row]
            for category, index, _ in rounds:
                rescued.start_round(str(category), int(index))
            rescued.commit_batch([], finished_rounds=[(str(c), int(i)) for c, i, d in rounds if d])
            summary.rounds = len(rounds)
    except sqlite3.DatabaseError as exc:  # pragma: no cover - every read above is guarded
        raise corrupt_error(source, str(exc)) from None
    finally:
        db.close()
    return summary
