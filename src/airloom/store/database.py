"""The SQLite store: the single source of truth of a generation run.

It holds the accepted records (with provenance and their embedding), the rounds each
instructor has started and finished, the request cache (every completed teacher call,
so nothing paid for is paid again after a crash) and the reject log. Counts are derived
from the records. The file uses WAL, and every acceptance is one transaction, so a
``kill -9`` at any instant loses nothing accepted and duplicates nothing.

All methods are synchronous; the engine calls them from one dedicated thread.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.db"
    >>> with Store.open(path, embedding_model="hashing", output_path="out.jsonl") as store:
    ...     store.counts()
    {}
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import numpy as np

from airloom.errors import StoreError
from airloom.formats.records import Provenance, Record, turns_of
from airloom.reasons import merge_counts
from airloom.redact import redact_config, redact_text
from airloom.store import lock as store_lock

__all__ = [
    "APP_ID",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "CachedCall",
    "LockedConnection",
    "Store",
    "Totals",
    "check_integrity",
    "corrupt_error",
    "read_only_connection",
    "record_from_columns",
]

SCHEMA_VERSION = 1
APP_ID = "airloom"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at REAL NOT NULL, finished_at REAL,
    status TEXT NOT NULL, seed INTEGER, config TEXT
);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    unit TEXT NOT NULL,
    instruction TEXT NOT NULL,
    response TEXT NOT NULL,
    system TEXT,
    conversation TEXT,
    skip_prompt_formatting INTEGER NOT NULL DEFAULT 0,
    dedup_key TEXT NOT NULL,
    embedding BLOB,
    topic TEXT,
    instructor TEXT,
    model TEXT,
    endpoint TEXT,
    params TEXT,
    template_hash TEXT,
    seed INTEGER,
    run_id TEXT,
    round_key TEXT,
    meta TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_category ON records(category);
CREATE TABLE IF NOT EXISTS rounds (
    category TEXT NOT NULL, idx INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (category, idx)
);
CREATE TABLE IF NOT EXISTS request_cache (
    key TEXT PRIMARY KEY,
    model TEXT, endpoint TEXT,
    text TEXT NOT NULL, finish_reason TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    cost REAL NOT NULL, run_id TEXT, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rejects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT, category TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT,
    created_at REAL NOT NULL
);
"""


#: The ``records`` columns a :class:`Record` is read from (the embedding comes last).
RECORD_COLUMNS = (
    "id, category, unit, instruction, response, system, conversation,"
    " skip_prompt_formatting, dedup_key, topic, instructor, model, endpoint, params,"
    " template_hash, seed, run_id, round_key, meta, created_at"
)


def record_from_columns(item: Mapping[str, Any]) -> Record:
    """A :class:`Record` from a ``records`` row (column name → value), its JSON columns
    decoded and its ``embedding`` blob (when selected) as a vector.

    Example:
        >>> record = record_from_columns({"id": "r1", "category": "g", "unit": "r1",
        ...     "instruction": "q", "response": "a", "system": None, "conversation": None,
        ...     "skip_prompt_formatting": 0, "dedup_key": "k", "params": "{}",
        ...     "meta": '{"a": 1}', "created_at": 1.0})
        >>> record.meta, record.provenance.created_at
        ({'a': 1}, 1.0)
    """
    blob = item.get("embedding")
    return Record(
        id=str(item["id"]),
        category=str(item["category"]),
        instruction=str(item["instruction"]),
        response=str(item["response"]),
        system=item.get("system"),
        conversation=turns_of(json.loads(item["conversation"])) if item["conversation"] else None,
        skip_prompt_formatting=bool(item["skip_prompt_formatting"]),
        topic=item.get("topic"),
        unit=str(item.get("unit") or ""),
        meta=json.loads(item["meta"]) if item.get("meta") else {},
        provenance=Provenance(
            instructor=item.get("instructor"),
            model=item.get("model"),
            endpoint=item.get("endpoint"),
            params=json.loads(item["params"]) if item.get("params") else {},
            template_hash=item.get("template_hash"),
            seed=item.get("seed"),
            run_id=item.get("run_id"),
            round_key=item.get("round_key"),
            created_at=float(item.get("created_at") or 0.0),
        ),
        dedup_key=str(item.get("dedup_key") or ""),
        embedding=np.frombuffer(blob, dtype=np.float32) if blob else None,
    )


def _columns(record: Record) -> tuple[Any, ...]:
    """The values :meth:`Store.commit_batch` inserts for a record."""
    origin = record.provenance
    turns = [t.as_dict() for t in record.conversation] if record.conversation else None
    embedding = record.embedding
    return (
        record.id,
        record.category,
        record.unit,
        record.instruction,
        record.response,
        record.system,
        json.dumps(turns, ensure_ascii=False) if turns else None,
        int(record.skip_prompt_formatting),
        record.dedup_key,
        None if embedding is None else np.asarray(embedding, np.float32).tobytes(),
        record.topic,
        origin.instructor,
        origin.model,
        origin.endpoint,
        json.dumps(dict(origin.params), sort_keys=True, default=str),
        origin.template_hash,
        origin.seed,
        origin.run_id,
        origin.round_key,
        json.dumps(dict(record.meta), ensure_ascii=False, default=str),
        origin.created_at or time.time(),
    )


@dataclass(frozen=True, slots=True)
class CachedCall:
    """One completed teacher call kept in the request cache."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    #: The model the endpoint says answered ("" when it did not say).
    model: str = ""


@dataclass(frozen=True, slots=True)
class Totals:
    """Spending recorded in the store (all runs)."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: float

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


def corrupt_error(path: Path | str, detail: str) -> StoreError:
    """The error for a store SQLite cannot read: nothing was changed, how to recover.

    Example:
        >>> corrupt_error("a.db", "database disk image is malformed").hint.split(": ")[1]
        'airloom recover a.db NEW.airloom.db'
    """
    return StoreError(
        f"{path} is corrupt ({detail})",
        hint=f"nothing was changed; copy what is readable into a new store: "
        f"airloom recover {path} NEW.airloom.db",
    )


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the file (``mode=ro``); without a write-ahead log
    beside it, it does not even create one (``immutable``), so the folder stays as it was.
    """
    wal = Path(f"{path}-wal").exists()
    return sqlite3.connect(
        f"file:{quote(str(path.resolve()))}?mode=ro{'' if wal else '&immutable=1'}",
        uri=True,
        timeout=30.0,
        check_same_thread=False,
    )


def check_integrity(path: Path) -> None:
    """Raise :func:`corrupt_error` unless SQLite's ``PRAGMA quick_check`` finds the file
    sound; the check reads only.

    Example:
        >>> import tempfile
        >>> bad = Path(tempfile.mkdtemp()) / "bad.db"
        >>> _ = bad.write_bytes(b"SQLite format 3" + bytes(201))
        >>> check_integrity(bad)
        Traceback (most recent call last):
        ...
        airloom.errors.StoreError: ...bad.db is corrupt (file is not a database) (...)
    """
    stamp = _stamp(path)
    if _CHECKED.get(str(path.resolve())) == stamp:
        return  # checked already by this process, and unchanged since
    try:
        connection = read_only_connection(path)
        try:
            rows = connection.execute("PRAGMA quick_check(3)").fetchall()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return  # a writer holds it right now: it is being written, not damaged
        raise corrupt_error(path, str(exc)) from None
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    if problems:
        raise corrupt_error(path, "; ".join(problems)[:300])
    _CHECKED[str(path.resolve())] = stamp


_CHECKED: dict[str, tuple[int, ...]] = {}


def _stamp(path: Path) -> tuple[int, ...]:
    """Size and modification time of a store and its write-ahead log."""
    stamp: list[int] = []
    for name in (str(path), f"{path}-wal"):
        try:
            info = os.stat(name)
        except OSError:
            stamp += [-1, -1]
        else:
            stamp += [info.st_size, info.st_mtime_ns]
    return tuple(stamp)


def _disk_error(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc).lower()
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return corrupt_error(path, str(exc))
    if "disk is full" in text or "database or disk is full" in text:
        return StoreError(
            f"the disk is full while writing {path}; the last transaction was rolled back",
            hint="free some space and run the same command again: nothing accepted is lost",
        )
    if "locked" in text or "busy" in text:
        return StoreError(
            f"{path} is locked by another process",
            hint="is another airloom run using this store? wait for it or use another store_path",
        )
    return StoreError(f"cannot write {path}: {exc}")


class LockedConnection:
    """A connection to a store file that holds the file's writer lock until closed
    (the store itself, and the curation ledger beside it).

    Example:
        >>> import sqlite3
        >>> with LockedConnection(Path("x.db"), sqlite3.connect(":memory:")) as db:
        ...     db.path.name
        'x.db'
    """

    def __init__(
        self, path: Path, connection: sqlite3.Connection, lock: Path | None = None
    ) -> None:
        self.path = path
        self._db = connection
        self._lock = lock

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite) and free the lock."""
        self._db.close()
        if self._lock is not None:
            store_lock.release(self._lock)
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Store(LockedConnection):
    """An open store file (see the module docstring)."""

    # ---- opening ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        embedding_model: str | None = None,
        output_path: str | None = None,
        create: bool = True,
        read_only: bool = False,
    ) -> Store:
        """Open (or create) a store, refusing files that are not ours or too new.

        ``embedding_model`` must match the one the stored embeddings were made with;
        ``output_path`` the run the store belongs to (both recorded at creation). A store
        opened to write holds its writer lock (:mod:`airloom.store.lock`) until
        closed; ``read_only`` opens it for reading beside a writer.
        """
        path = Path(path)
        lock = None if read_only else store_lock.acquire(path)
        try:
            return cls._open(path, embedding_model, output_path, create and not read_only, lock)
        except BaseException:
            if lock is not None:
                store_lock.release(lock)
            raise

    @classmethod
    def _open(
        cls,
        path: Path,
        embedding_model: str | None,
        output_path: str | None,
        create: bool,
        lock: Path | None,
    ) -> Store:
        if not path.exists() and not create:
            raise StoreError(f"store {path} does not exist", hint="check the path or run generate")
        if path.exists() and path.stat().st_size > 0:
            with open(path, "rb") as handle:
                if handle.read(16) != b"SQLite format 3\x00":
                    raise StoreError(
                        f"{path} is not an airloom store (not an SQLite file; if it was one, "
                        "its first page is damaged)",
                        hint="set store_path to a new file name",
                    )
            check_integrity(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if lock is None:
                connection = read_only_connection(path)
            else:
                connection = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise _disk_error(path, exc) from exc
        store = cls(path, connection, lock)
        store._check_or_init(embedding_model=embedding_model, output_path=output_path)
        return store

    def _meta(self) -> dict[str, str]:
        try:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError:
            return {}

    def _check_or_init(self, *, embedding_model: str | None, output_path: str | None) -> None:
        tables = {
            row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        meta = self._meta()
        if tables and meta.get("app") != APP_ID:
            raise StoreError(
                f"{self.path} is an SQLite file that airloom did not create",
                hint="set store_path to a new file name",
            )
        if meta:
            version = int(meta.get("schema_version", "0"))
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer airloom (schema {version}, "
                    f"this one reads {SCHEMA_VERSION})",
                    hint="upgrade airloom, or use another store_path",
                )
            stored_model = meta.get("embedding_model")
            if embedding_model and stored_model and stored_model != embedding_model:
                raise StoreError(
                    f"{self.path} holds embeddings of '{stored_model}', not '{embedding_model}'",
                    hint=f"set embedding_model: {stored_model}, or start a new store_path",
                )
            stored_output = meta.get("output_path")
            if output_path and stored_output and Path(stored_output).name != Path(output_path).name:
                raise StoreError(
                    f"{self.path} belongs to another run (output_path {stored_output})",
                    hint="set store_path for this run, or output_path back to the old one",
                )
            return
        if self._lock is None:
            raise StoreError(f"{self.path} is not an airloom store (it holds no airloom data)")
        with self._write():
            self._db.executescript(_SCHEMA)
            values = {
                "app": APP_ID,
                "schema_version": str(SCHEMA_VERSION),
                "store_id": uuid.uuid4().hex,
                "created_at": str(time.time()),
            }
            if embedding_model:
                values["embedding_model"] = embedding_model
            if output_path:
                values["output_path"] = output_path
            self._db.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", values.items()
            )

    # ---- plumbing -----------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                yield self._db
        except sqlite3.Error as exc:
            raise _disk_error(self.path, exc) from exc

    # ---- meta and runs ------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """One meta value."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set one meta value."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def start_run(self, run_id: str, seed: int, config_json: str) -> None:
        """Record the start of a run (keys, tokens and auth headers in its configuration
        are replaced by ``***``, URL credentials masked: no secret is kept at rest)."""
        try:
            config_json = json.dumps(redact_config(json.loads(config_json)), sort_keys=True)
        except ValueError:
            config_json = redact_text(config_json)
        with self._write() as db:
            db.execute(
                "INSERT INTO runs(run_id, started_at, status, seed, config) VALUES (?,?,?,?,?)",
                (run_id, time.time(), "running", seed, config_json),
            )

    def finish_run(self, run_id: str, status: str) -> None:
        """Record how a run ended (completed, stopped, interrupted, failed)."""
        with self._write() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?",
                (time.time(), status, run_id),
            )

    # ---- records ------------------------------------------------------------------------
    def commit_batch(
        self,
        records: Sequence[Record],
        rejects: Sequence[tuple[str, str, str, str | None]] = (),
        finished_rounds: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Insert accepted records, reject-log entries and finished rounds in ONE transaction.

        ``rejects`` are (run_id, category, reason, detail). A record whose id is already
        stored is ignored (replays are idempotent).
        """
        rows = [_columns(r) for r in records]
        now = time.time()
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO records(id, category, unit, instruction, response, system,"
                " conversation, skip_prompt_formatting, dedup_key, embedding, topic, instructor,"
                " model, endpoint, params, template_hash, seed, run_id, round_key, meta,"
                " created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            db.executemany(
                "INSERT INTO rejects(run_id, category, reason, detail, created_at)"
                " VALUES (?,?,?,?,?)",
                [
                    (run_id, category, reason, None if detail is None else redact_text(detail), now)
                    for run_id, category, reason, detail in rejects
                ],
            )
            db.executemany(
                "INSERT INTO rounds(category, idx, done) VALUES (?, ?, 1)"
                " ON CONFLICT(category, idx) DO UPDATE SET done = 1",
                finished_rounds,
            )

    def counts(self) -> dict[str, int]:
        """Units accepted per category, derived from the records."""
        rows = self._db.execute(
            "SELECT category, COUNT(DISTINCT unit) FROM records GROUP BY category"
        ).fetchall()
        return {str(category): int(count) for category, count in rows}

    def categories(self) -> list[str]:
        """Categories present in the store, sorted."""
        rows = self._db.execute("SELECT DISTINCT category FROM records ORDER BY category")
        return [str(row[0]) for row in rows]

    def record_count(self) -> int:
        """Number of stored records."""
        return int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def load_index_data(self) -> tuple[list[str], list[str], list[str], np.ndarray]:
        """(ids, categories, dedup keys, embedding matrix) of all records, for resume.

        Records stored without an embedding get a zero row (they match nothing).
        """
        ids: list[str] = []
        categories: list[str] = []
        keys: list[str] = []
        blobs: list[bytes | None] = []
        for rid, category, key, blob in self._db.execute(
            "SELECT id, category, dedup_key, embedding FROM records ORDER BY seq"
        ):
            ids.append(rid)
            categories.append(category)
            keys.append(key)
            blobs.append(blob)
        dim = next((len(b) // 4 for b in blobs if b), 0)
        matrix = np.zeros((len(blobs), dim), dtype=np.float32)
        if dim:
            for row, blob in enumerate(blobs):
                if blob and len(blob) == dim * 4:
                    matrix[row] = np.frombuffer(blob, dtype=np.float32)
        return ids, categories, keys, matrix

    def iter_records(
        self, categories: Iterable[str] | None = None, *, embeddings: bool = False
    ) -> Iterator[Record]:
        """Stored records in acceptance order (their embeddings only when asked for)."""
        query = f"SELECT {RECORD_COLUMNS}{', embedding' if embeddings else ''} FROM records"
        args: list[str] = []
        wanted = list(categories) if categories is not None else None
        if wanted is not None:
            query += f" WHERE category IN ({','.join('?' * len(wanted))})"
            args = wanted
        cursor = self._db.execute(query + " ORDER BY seq", args)
        names = [d[0] for d in cursor.description]
        try:
            for row in cursor:
                yield record_from_columns(dict(zip(names, row, strict=True)))
        except sqlite3.DatabaseError as exc:
            raise corrupt_error(self.path, str(exc)) from None

    # ---- rounds -------------------------------------------------------------------------
    def start_round(self, category: str, index: int) -> None:
        """Record that a round was started (so a crash can replay it)."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO rounds(category, idx, done) VALUES (?, ?, 0)",
                (category, index),
            )

    def round_state(self, category: str) -> tuple[list[int], int]:
        """(unfinished round indexes, next fresh index) of one category."""
        rows = self._db.execute(
            "SELECT idx, done FROM rounds WHERE category = ? ORDER BY idx", (category,)
        ).fetchall()
        unfinished = [int(idx) for idx, done in rows if not done]
        next_index = (int(rows[-1][0]) + 1) if rows else 0
        return unfinished, next_index

    # ---- request cache ------------------------------------------------------------------
    def cache_get(self, key: str) -> CachedCall | None:
        """A completed call by its key, or None."""
        row = self._db.execute(
            "SELECT text, finish_reason, prompt_tokens, completion_tokens, cost,"
            " COALESCE(model, '') FROM request_cache WHERE key = ?",
            (key,),
        ).fetchone()
        return None if row is None else CachedCall(*row)

    def cache_put(
        self, key: str, call: CachedCall, *, model: str, endpoint: str, run_id: str
    ) -> None:
        """Keep a completed call (committed at once: it has been paid for); ``model`` is the
        requested one, kept when the endpoint did not say which model answered."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO request_cache(key, model, endpoint, text, finish_reason,"
                " prompt_tokens, completion_tokens, cost, run_id, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    key,
                    call.model or model,
                    endpoint,
                    call.text,
                    call.finish_reason,
                    call.prompt_tokens,
                    call.completion_tokens,
                    call.cost,
                    run_id,
                    time.time(),
                ),
            )

    def totals(self) -> Totals:
        """Requests, tokens and cost of every teacher call in the store."""
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0),"
            " COALESCE(SUM(cost),0) FROM request_cache"
        ).fetchone()
        return Totals(int(row[0]), int(row[1]), int(row[2]), float(row[3]))

    def reject_counts(self) -> dict[str, dict[str, int]]:
        """Rejects per category and reason (all runs; older spellings of a reason are
        counted under today's, see :class:`airloom.reasons.Reason`)."""
        rows: dict[str, list[tuple[str, int]]] = {}
        for category, reason, count in self._db.execute(
            "SELECT category, reason, COUNT(*) FROM rejects GROUP BY category, reason"
        ):
            rows.setdefault(category, []).append((reason, int(count)))
        return {category: dict(merge_counts(pairs)) for category, pairs in rows.items()}
