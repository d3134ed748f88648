"""Export → import gives the same records, for every category and every re-importable
format: content (system prompts, multi-turn sessions, the skip flag, unicode) always,
ids where the format has them, everything (provenance, meta, embeddings) in a store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airloom.curate.sources import read_dataset
from airloom.export import FORMATS
from airloom.export.writers import WRITERS, write_dataset
from airloom.formats.records import Record, Turn, make_record
from airloom.formats.rows import airoboros_row, record_from_row, sharegpt_row
from airloom.instructors.registry import available_instructors
from tests.support.records import one_record_per_category

#: (format, row schema of tables, whether ids travel)
FILE_FORMATS = [
    ("jsonl", "sharegpt", False),
    ("sharegpt", "sharegpt", True),
    ("parquet", "sharegpt", True),
    ("parquet", "airoboros", False),
    ("hf", "sharegpt", True),
    ("hf", "airoboros", False),
]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    made = one_record_per_category()
    assert {r.category for r in made} == set(available_instructors())
    assert any(r.skip_prompt_formatting and r.conversation for r in made)  # sessions
    assert any(r.conversation and not r.skip_prompt_formatting for r in made)  # rules
    assert any(r.system and not r.conversation for r in made)
    assert any(r.conversation and len(r.conversation) == 2 for r in made)  # one exchange
    return made


def _out(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / {"jsonl": "x.jsonl", "sharegpt": "x.jsonl", "parquet": "x.parquet"}.get(
        fmt, "x_hf"
    )


def test_the_format_table_and_the_writers_agree() -> None:
    assert set(FORMATS) == set(WRITERS)
    reimportable = {name for name, f in FORMATS.items() if f.reimportable}
    assert reimportable == {fmt for fmt, _, _ in FILE_FORMATS} | {"store"}


@pytest.mark.parametrize(("fmt", "schema", "with_ids"), FILE_FORMATS)
def test_every_category_survives_a_file_format(
    records: list[Record], tmp_path: Path, fmt: str, schema: str, with_ids: bool
) -> None:
    if fmt in ("parquet", "hf"):
        pytest.importorskip("pyarrow")
    if fmt == "hf":
        pytest.importorskip("datasets")
    out = _out(tmp_path, fmt)
    assert write_dataset(records, out, fmt, schema=schema) == len(records)
    back = read_dataset(out)
    assert back.problems == []
    for original, read in zip(records, back.records, strict=True):
        assert read.content == original.content, original.category
        if with_ids:
            assert read.id == original.id, original.category
    if not with_ids:  # rows without ids get content-derived ones, the same every time
        again = read_dataset(out)
        assert [r.id for r in again.records] == [r.id for r in back.records]


def test_every_field_survives_a_store(records: list[Record], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(records), 8)).astype(np.float32)
    out = tmp_path / "copy.db"
    write_dataset(records, out, "store", vectors=vectors, embedding_model="hashing")
    assert [p.name for p in tmp_path.iterdir()] == ["copy.db"]  # built aside, moved whole
    back = read_dataset(out)
    assert back.records == records  # ids, units, topics, meta, provenance, dedup keys
    assert back.vectors is not None and np.array_equal(back.vectors, vectors)
    assert back.embedding_model == "hashing"


def test_a_second_export_of_what_was_read_is_byte_identical(
    records: list[Record], tmp_path: Path
) -> None:
    for fmt in ("jsonl", "sharegpt"):
        first, second = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        write_dataset(records, first, fmt)
        write_dataset(read_dataset(first).records, second, fmt)
        assert first.read_bytes() == second.read_bytes(), fmt


def test_text_is_written_but_not_read_back(records: list[Record], tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    write_dataset(records, out, "text", template="chatml")
    lines = out.read_text(encoding="utf-8").split("\n")[:-1]  # U+2028 is no line end
    rows = [json.loads(line) for line in lines]
    assert [row["category"] for row in rows] == [r.category for r in records]
    assert not FORMATS["text"].reimportable


# ---- any record, through the row shapes ------------------------------------------------
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30
)  # no lone surrogates: they are not text


@st.composite
def any_record(draw: st.DrawFn) -> Record:
    exchanges = draw(st.integers(min_value=0, max_value=3))
    turns = tuple(
        Turn(role, draw(text)) for _ in range(exchanges) for role in ("user", "assistant")
    )
    return make_record(
        draw(st.sampled_from(["general", "rp", "ünï ✓"])),
        draw(text),
        draw(text),
        system=draw(st.one_of(st.none(), text)),
        conversation=turns or None,
        skip_prompt_formatting=draw(st.booleans()),
        id=draw(st.one_of(st.none(), st.text(min_size=1, max_size=8))),
    )


@settings(max_examples=200, deadline=None)
@given(record=any_record())
def test_any_record_survives_both_jsonl_rows(record: Record) -> None:
    shared = record_from_row(json.loads(json.dumps(sharegpt_row(record), ensure_ascii=False)))
    assert (shared.id, shared.content) == (record.id, record.content)
    flat = record_from_row(json.loads(json.dumps(airoboros_row(record))))
    assert flat.content == record.content
