"""Curation verdicts kept in the store's own SQLite file (an additive, versioned table).

Every judge or verifier verdict is stored under (kind, record content hash, method),
where ``method`` identifies the judge (model, rubric, threshold) or the verifier set,
so a rerun or a resumed run decides nothing twice. The table lives beside the
engine's tables and never changes them: a store stays readable by the engine, and the
curation schema has its own version in the store's ``meta`` table.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.db"
    >>> Store.open(path, embedding_model="hashing").close()
    >>> with Ledger.open(path) as ledger:
    ...     ledger.put([Verdict("judge", "h1", "m", "r1", "general", "good", 95.0, "fine")])
    ...     ledger.get("judge", "m", ["h1", "h2"])["h1"].score
    95.0
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from airloom.errors import StoreError
from airloom.store import lock as store_lock
from airloom.store.database import LockedConnection, Store

__all__ = ["CURATE_SCHEMA_VERSION", "PASSING", "Ledger", "Verdict"]

CURATE_SCHEMA_VERSION = 1
_VERSION_KEY = "curate_schema_version"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS curate_verdicts (
    kind TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    method TEXT NOT NULL,
    record_id TEXT,
    category TEXT,
    status TEXT NOT NULL,
    score REAL,
    reason TEXT,
    raw TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    PRIMARY KEY (kind, record_hash, method)
);
CREATE INDEX IF NOT EXISTS curate_verdicts_category ON curate_verdicts(kind, category);
"""

#: Verdict statuses: judge (good, bad, error) and verifier (pass, fail, skip).
PASSING = frozenset({"good", "pass"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """One stored decision about one record."""

    kind: str
    record_hash: str
    method: str
    record_id: str | None
    category: str | None
    status: str
    score: float | None = None
    reason: str = ""
    raw: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    created_at: float = field(default_factory=time.time)

    @property
    def passed(self) -> bool:
        """True for ``good`` and ``pass``."""
        return self.status in PASSING


class Ledger(LockedConnection):
    """The curation table of one store file (its own connection to the same file)."""

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        """Open the curation table of an existing store, creating it on first use (it holds
        the store's writer lock until closed)."""
        path = Path(path)
        lock = store_lock.acquire(path)
        try:
            Store.open(path, create=False).close()  # the store's identity and schema checks
            try:
                connection = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open {path}: {exc}") from exc
            ledger = cls(path, connection, lock)
            ledger._init()
        except BaseException:
            store_lock.release(lock)
            raise
        return ledger

    def _init(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (_VERSION_KEY,)).fetchone()
        if row is not None and int(row[0]) > CURATE_SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} holds curation data of a newer airloom (curation schema {row[0]})",
                hint="upgrade airloom",
            )
        try:
            with self._db:
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                    (_VERSION_KEY, str(CURATE_SCHEMA_VERSION)),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot add the curation table to {self.path}: {exc}") from exc

    def put(self, verdicts: Sequence[Verdict]) -> None:
        """Keep verdicts (one transaction; a newer verdict replaces an older one)."""
        rows = [
            (
                v.kind,
                v.record_hash,
                v.method,
                v.record_id,
                v.category,
                v.status,
                v.score,
                v.reason,
                v.raw,
                v.prompt_tokens,
                v.completion_tokens,
                v.cost,
                v.created_at,
            )
            for v in verdicts
        ]
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO curate_verdicts(kind, record_hash, method, record_id,"
                    " category, status, score, reason, raw, prompt_tokens, completion_tokens,"
                    " cost, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write verdicts to {self.path}: {exc}") from exc

    def get(self, kind: str, method: str, hashes: Iterable[str]) -> dict[str, Verdict]:
        """Stored verdicts of ``kind``/``method`` for these record hashes."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, Verdict] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            cursor = self._db.execute(
                "SELECT kind, record_hash, method, record_id, category, status, score, reason,"
                " raw, prompt_tokens, completion_tokens, cost, created_at FROM curate_verdicts"
                f" WHERE kind = ? AND method = ? AND record_hash IN ({','.join('?' * len(chunk))})",
                [kind, method, *chunk],
            )
            for row in cursor:
                found[row[1]] = Verdict(*row)
        return found

    def latest(self, kind: str) -> list[Verdict]:
        """The newest verdict of ``kind`` per record hash (any method), oldest first."""
        cursor = self._db.execute(
            "SELECT kind, record_hash, method, record_id, category, status, score, reason, raw,"
            " prompt_tokens, completion_tokens, cost, created_at FROM curate_verdicts"
            " WHERE kind = ? ORDER BY created_at",
            (kind,),
        )
        newest: dict[str, Verdict] = {}
        for row in cursor:
            newest[row[1]] = Verdict(*row)
        return sorted(newest.values(), key=lambda v: v.created_at)

    def spending(self, kind: str) -> tuple[int, int, int, float]:
        """(calls, prompt tokens, completion tokens, cost) recorded for ``kind``."""
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0),"
            " COALESCE(SUM(cost),0) FROM curate_verdicts WHERE kind = ? AND"
            " (prompt_tokens > 0 OR completion_tokens > 0)",
            (kind,),
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2]), float(row[3])
