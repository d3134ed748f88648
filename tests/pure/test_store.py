"""The SQLite store: identity checks, atomic batches, derived counts, cache, disk full."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from airloom.errors import StoreError
from airloom.formats.records import Provenance, Record, Turn, dedup_key, record_id
from airloom.store.database import SCHEMA_VERSION, CachedCall, Store, Totals


def open_store(path: Path, **kwargs: object) -> Store:
    options: dict[str, object] = {"embedding_model": "hashing", "output_path": "out.jsonl"}
    options.update(kwargs)
    return Store.open(path, **options)  # type: ignore[arg-type]


def rec(
    text: str,
    category: str = "general",
    *,
    unit: str | None = None,
    embedding: np.ndarray | None = None,
    response: str = "answer",
) -> Record:
    rid = record_id(category, text, response, unit)
    return Record(rid, category, text, response, unit=unit or "", embedding=embedding)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with open_store(tmp_path / "run.airloom.db") as opened:
        yield opened


# ---- opening ------------------------------------------------------------------------------
def test_create_then_reopen(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "s.db"
    with open_store(path) as store:
        store.commit_batch([rec("one")])
        assert store.get_meta("app") == "airloom"
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert store.get_meta("embedding_model") == "hashing"
        store_id = store.get_meta("store_id")
    with open_store(path) as store:
        assert store.get_meta("store_id") == store_id
        assert store.record_count() == 1
    with Store.open(path, create=False) as store:  # no identity given: no check
        assert store.record_count() == 1


def test_open_missing_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()


def test_not_an_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 3)
    with pytest.raises(StoreError, match="not an SQLite file") as info:
        open_store(path)
    assert "store_path" in (info.value.hint or "")
    assert path.read_text().startswith("these are my notes")  # untouched


def test_foreign_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="airloom did not create"):
        open_store(path)


def test_empty_sqlite_file_is_initialised(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with open_store(path) as store:
        assert store.get_meta("app") == "airloom"


def test_newer_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_store(path) as store:
        store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match=rf"newer airloom \(schema {SCHEMA_VERSION + 1}") as info:
        open_store(path)
    assert "upgrade" in (info.value.hint or "")


def test_different_embedding_model(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_store(path).close()
    with pytest.raises(StoreError, match="holds embeddings of 'hashing', not 'minilm'") as info:
        open_store(path, embedding_model="minilm")
    assert "embedding_model: hashing" in (info.value.hint or "")


def test_different_output_path(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    open_store(path, output_path="runs/a.jsonl").close()
    with open_store(path, output_path="/elsewhere/a.jsonl"):  # same file name: same run
        pass
    with pytest.raises(StoreError, match=r"belongs to another run \(output_path runs/a\.jsonl\)"):
        open_store(path, output_path="runs/b.jsonl")


# ---- batches --------------------------------------------------------------------------------
def test_commit_batch_writes_records_rejects_and_rounds(store: Store) -> None:
    store.start_round("general", 0)
    store.start_round("general", 1)
    store.commit_batch(
        [rec("a"), rec("b")],
        rejects=[("run1", "general", "duplicate", "a twin"), ("run1", "general", "filtered", None)],
        finished_rounds=[("general", 0)],
    )
    assert store.record_count() == 2
    assert store.reject_counts() == {"general": {"duplicate": 1, "filtered": 1}}
    assert store.round_state("general") == ([1], 2)


def test_commit_batch_is_one_transaction(store: Store) -> None:
    store.commit_batch([rec("kept")])
    with pytest.raises(StoreError):
        # a bad round (NULL category) fails after the records were inserted
        store.commit_batch(
            [rec("lost 1"), rec("lost 2")],
            rejects=[("run", "general", "duplicate", "x")],
            finished_rounds=[(None, 3)],  # type: ignore[list-item]
        )
    assert [r.instruction for r in store.iter_records()] == ["kept"]
    assert store.reject_counts() == {}
    assert store.round_state("general") == ([], 0)


def test_duplicate_record_id_is_ignored(store: Store) -> None:
    first = rec("same")
    store.commit_batch([first])
    again = rec("same").replace(topic="changed")
    store.commit_batch([again, rec("other")])
    rows = list(store.iter_records())
    assert [r.instruction for r in rows] == ["same", "other"]
    assert rows[0].topic is None  # the first version stays
    assert store.record_count() == 2


def test_counts_are_derived_from_records_with_units(store: Store) -> None:
    assert store.counts() == {}
    store.commit_batch(
        [
            rec("a"),
            rec("b"),
            rec("turn 1", "rp", unit="session-1"),
            rec("turn 2", "rp", unit="session-1"),
            rec("turn 1", "rp", unit="session-2"),
        ]
    )
    assert store.counts() == {"general": 2, "rp": 2}
    assert store.record_count() == 5


def test_round_state(store: Store) -> None:
    assert store.round_state("coding") == ([], 0)
    for index in range(4):
        store.start_round("coding", index)
    store.start_round("coding", 2)  # idempotent
    store.commit_batch([], finished_rounds=[("coding", 0), ("coding", 2)])
    assert store.round_state("coding") == ([1, 3], 4)
    store.commit_batch([], finished_rounds=[("coding", 7)])  # finishing an unstarted round
    assert store.round_state("coding") == ([1, 3], 8)
    assert store.round_state("general") == ([], 0)


def test_record_fields_round_trip(store: Store) -> None:
    record = rec("Q?", response="A.").replace(
        system="Be brief.",
        conversation=(Turn("user", "Q?"), Turn("assistant", "A.")),
        skip_prompt_formatting=True,
        topic="volcanoes",
        meta={"plain": True, "ünï": "ok"},
        provenance=Provenance(model="m", params={"temperature": 0.5}, created_at=12.5),
        embedding=np.ones(4, dtype=np.float32),
    )
    store.commit_batch([record])
    (row,) = store.iter_records()
    assert row == record  # every field, the creation time included
    assert row.embedding is None  # left out unless asked for
    (with_vector,) = store.iter_records(embeddings=True)
    assert with_vector.embedding is not None and with_vector.embedding.tolist() == [1.0] * 4


def test_iter_records_by_category_in_acceptance_order(store: Store) -> None:
    store.commit_batch([rec("c1", "coding"), rec("g1"), rec("c2", "coding")])
    store.commit_batch([rec("x1", "contextual")])
    assert [r.instruction for r in store.iter_records(["coding"])] == ["c1", "c2"]
    assert [r.instruction for r in store.iter_records(["coding", "contextual"])] == [
        "c1",
        "c2",
        "x1",
    ]
    assert [r.instruction for r in store.iter_records([])] == []


# ---- cache and totals -------------------------------------------------------------------
def test_request_cache_and_totals(store: Store) -> None:
    assert store.cache_get("k1") is None
    assert store.totals() == Totals(0, 0, 0, 0.0)
    call = CachedCall("text", "stop", prompt_tokens=10, completion_tokens=5, cost=0.25)
    store.cache_put("k1", call, model="m", endpoint="e", run_id="r")
    store.cache_put(
        "k2", CachedCall("t2", "length", 3, 2, 0.5), model="m", endpoint="e", run_id="r"
    )
    store.cache_put(
        "k1", CachedCall("other", "stop", 99, 99, 9.0), model="m", endpoint="e", run_id="r"
    )
    # first write wins; the model is the requested one when the endpoint did not name one
    assert store.cache_get("k1") == CachedCall("text", "stop", 10, 5, 0.25, model="m")
    assert store.cache_get("k2") == CachedCall("t2", "length", 3, 2, 0.5, model="m")
    reported = CachedCall("t3", "stop", 1, 1, 0.0, model="served-by")
    store.cache_put("k3", reported, model="asked-for", endpoint="e", run_id="r")
    assert store.cache_get("k3") == reported
    totals = store.totals()
    assert totals == Totals(requests=3, prompt_tokens=14, completion_tokens=8, cost=0.75)
    assert totals.tokens == 22


def test_runs_and_meta(store: Store) -> None:
    store.start_run("r1", 42, "{}")
    store.finish_run("r1", "completed")
    status, seed = store._db.execute("SELECT status, seed FROM runs WHERE run_id='r1'").fetchone()
    assert (status, seed) == ("completed", 42)
    store.set_meta("seed", "7")
    store.set_meta("seed", "8")
    assert store.get_meta("seed") == "8"
    assert store.get_meta("absent") is None


# ---- embeddings ---------------------------------------------------------------------------
def test_load_index_data_returns_embeddings_exactly(store: Store) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((5, 7)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        rec(f"t{i}", "coding" if i % 2 else "general", embedding=v) for i, v in enumerate(vectors)
    ]
    records.insert(2, rec("no vector"))
    store.commit_batch(records)
    ids, categories, keys, matrix = store.load_index_data()
    assert ids == [r.id for r in records]
    assert categories == [r.category for r in records]
    assert keys == [dedup_key(r.instruction) for r in records]
    assert matrix.dtype == np.float32 and matrix.shape == (6, 7)
    assert np.array_equal(np.delete(matrix, 2, axis=0), vectors)  # bit for bit
    assert not matrix[2].any()  # no embedding: a zero row


def test_load_index_data_empty(store: Store) -> None:
    ids, categories, keys, matrix = store.load_index_data()
    assert (ids, categories, keys) == ([], [], [])
    assert matrix.shape[0] == 0


def test_dedup_key_and_record_id() -> None:
    assert dedup_key("Hello   World") == dedup_key(" hello world\n")
    assert dedup_key("hello world") != dedup_key("hello worlds")
    assert record_id("general", "a", "b") == record_id("general", "a", "b")
    assert record_id("general", "a", "b") != record_id("coding", "a", "b")
    assert record_id("rp", "a", "b", "s1") != record_id("rp", "a", "b", "s2")


# ---- disk full ----------------------------------------------------------------------------
def test_disk_full_is_a_store_error_and_keeps_what_was_committed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    store.commit_batch([rec("committed before")])
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 1}")
    big = "x" * 20_000
    written = 0
    with pytest.raises(StoreError) as info:
        for written in range(50):
            store.commit_batch([rec(f"{written} {big}"), rec(f"{written} twin {big}")])
    assert "disk is full" in info.value.message
    assert "nothing accepted is lost" in (info.value.hint or "")
    store.close()
    with open_store(path) as reopened:
        instructions = [r.instruction for r in reopened.iter_records()]
    expected = ["committed before"]
    for index in range(written):
        expected += [f"{index} {big}", f"{index} twin {big}"]
    assert instructions == expected  # every earlier batch whole, the failing one absent


def test_locked_store_message(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(path)
    store._db.execute("PRAGMA busy_timeout = 0")
    other = sqlite3.connect(path, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        store._db.execute("PRAGMA busy_timeout = 0")
        store._db.close()
        store._db = sqlite3.connect(path, timeout=0)
        with pytest.raises(StoreError, match="locked by another process"):
            store.commit_batch([rec("blocked")])
    finally:
        other.rollback()
        other.close()
        store.close()
