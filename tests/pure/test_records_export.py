"""Record conversions and exports derived from a real store file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airloom.errors import ConfigError, StoreError
from airloom.export.writers import export_store
from airloom.formats.records import Record, Turn, make_record, record_id
from airloom.formats.rows import airoboros_row, record_from_row, sharegpt_row
from airloom.store.database import Store


def row(**fields: Any) -> Record:
    base: dict[str, Any] = {
        "id": "r1",
        "category": "general",
        "instruction": "Name a river.",
        "response": "The Nile.",
    }
    base.update(fields)
    return make_record(**base)


def test_airoboros_row_minimal_and_optional_fields() -> None:
    assert airoboros_row(row()) == {
        "instruction": "Name a river.",
        "response": "The Nile.",
        "category": "general",
    }
    full = airoboros_row(row(system="Be terse.", skip_prompt_formatting=True, topic="rivers"))
    assert full == {
        "instruction": "Name a river.",
        "response": "The Nile.",
        "category": "general",
        "system": "Be terse.",
        "skip_prompt_formatting": True,
    }
    assert "system" not in airoboros_row(row(system=""))


def test_sharegpt_row_single_turn_with_system() -> None:
    out = sharegpt_row(row(system="Be terse."))
    assert out == {
        "id": "r1",
        "category": "general",
        "conversations": [
            {"from": "system", "value": "Be terse."},
            {"from": "human", "value": "Name a river."},
            {"from": "gpt", "value": "The Nile."},
        ],
    }
    assert [t["from"] for t in sharegpt_row(row())["conversations"]] == ["human", "gpt"]


CONVERSATION = [
    {"role": "user", "content": "Hi, I'm Ann."},
    {"role": "assistant", "content": "Hello Ann."},
    {"role": "user", "content": "What's my name?"},
    {"role": "assistant", "content": "Ann."},
]


def test_sharegpt_row_multi_turn_uses_stored_turns() -> None:
    out = sharegpt_row(
        row(category="gtkm", conversation=CONVERSATION, instruction="x", response="y")
    )
    assert out["conversations"] == [
        {"from": "human", "value": "Hi, I'm Ann."},
        {"from": "gpt", "value": "Hello Ann."},
        {"from": "human", "value": "What's my name?"},
        {"from": "gpt", "value": "Ann."},
    ]
    # the flat form is not the first and last turn: it is carried, so nothing is lost
    assert (out["instruction"], out["response"]) == ("x", "y")
    derived = sharegpt_row(
        row(conversation=CONVERSATION, instruction="Hi, I'm Ann.", response="Ann.")
    )
    assert "instruction" not in derived and "response" not in derived


def test_multi_turn_keeps_the_record_system_prompt() -> None:
    out = sharegpt_row(row(conversation=CONVERSATION, system="You are Ann's diary."))
    froms = [t["from"] for t in out["conversations"]]
    assert froms == ["system", "human", "gpt", "human", "gpt"]
    assert out["conversations"][0]["value"] == "You are Ann's diary."
    with_own = [{"role": "system", "content": "Own."}, *CONVERSATION]
    turns = row(conversation=with_own, system="Other.").chat_messages()
    assert [t["content"] for t in turns[:2]] == ["Own.", "Hi, I'm Ann."]  # not doubled


def test_chat_messages_do_not_alias_the_record() -> None:
    record = row(conversation=CONVERSATION)
    turns = record.chat_messages()
    turns[0]["content"] = "changed"
    assert record.conversation is not None
    assert record.conversation[0] == Turn("user", "Hi, I'm Ann.")


def test_unknown_roles_pass_through() -> None:
    out = sharegpt_row(row(conversation=[{"role": "function", "content": "{}"}]))
    assert out["conversations"] == [{"from": "function", "value": "{}"}]


def test_skip_prompt_formatting_survives_sharegpt() -> None:
    record = row(skip_prompt_formatting=True)
    assert sharegpt_row(record)["skip_prompt_formatting"] is True
    assert record_from_row(sharegpt_row(record)) == record


# ---- export through a real store ----------------------------------------------------
def stored(category: str, instruction: str, response: str, **extra: Any) -> Record:
    return Record(
        record_id(category, instruction, response), category, instruction, response, **extra
    )


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "run.airloom.db"
    with Store.open(path, embedding_model="hashing", output_path="out.jsonl") as store:
        store.commit_batch(
            [
                stored("general", "Name a river.", "The Nile.", topic="rivers"),
                stored("coding", "Sort a list. PLAINFORMAT", "sorted(xs)", meta={"plain": True}),
                stored(
                    "gtkm",
                    "Hi",
                    "Hello",
                    system="You are Ann.",
                    conversation=CONVERSATION,
                    skip_prompt_formatting=True,
                ),
                stored("general", "Ünïcode ✓?", "Ja — ✓"),
            ]
        )
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_airoboros_round_trip(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "data.jsonl"
    with Store.open(store_path, create=False) as store:
        assert export_store(store, out, "jsonl") == 4
    rows = read_jsonl(out)
    assert [r["category"] for r in rows] == ["general", "coding", "gtkm", "general"]
    assert rows[0] == {
        "instruction": "Name a river.",
        "response": "The Nile.",
        "category": "general",
    }
    assert rows[1]["instruction"].endswith(" PLAINFORMAT") and rows[1]["response"] == "sorted(xs)"
    assert rows[2]["system"] == "You are Ann." and rows[2]["skip_prompt_formatting"] is True
    assert rows[3]["instruction"] == "Ünïcode ✓?"
    assert "✓" in out.read_text(encoding="utf-8")  # written as UTF-8, not escaped
    assert not list(out.parent.glob(".data.jsonl.*"))  # no temp file left behind


def test_export_sharegpt_and_category_filter(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "sharegpt.jsonl"
    with Store.open(store_path, create=False) as store:
        assert export_store(store, out, "sharegpt", ["gtkm"]) == 1
    (only,) = read_jsonl(out)
    assert only["category"] == "gtkm"
    assert [t["from"] for t in only["conversations"]] == ["system", "human", "gpt", "human", "gpt"]
    with Store.open(store_path, create=False) as store:
        ids = [r.id for r in store.iter_records()]
        assert export_store(store, out, "sharegpt") == 4
    assert [r["id"] for r in read_jsonl(out)] == ids


def test_export_replaces_the_old_file_atomically(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "data.jsonl"
    out.write_text("old content\n")
    with Store.open(store_path, create=False) as store:
        export_store(store, out, "jsonl", ["coding"])
    assert len(read_jsonl(out)) == 1


def test_export_unknown_format(store_path: Path, tmp_path: Path) -> None:
    with Store.open(store_path, create=False) as store, pytest.raises(ConfigError) as info:
        export_store(store, tmp_path / "x", "xml")
    assert "unknown output format 'xml'" in info.value.message
    assert "sharegpt" in (info.value.hint or "")
    assert not (tmp_path / "x").exists()


def test_export_to_an_unwritable_place(store_path: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with Store.open(store_path, create=False) as store, pytest.raises(StoreError) as info:
        export_store(store, blocker / "sub" / "out.jsonl")
    assert "store is intact" in (info.value.hint or "")


def test_failed_export_leaves_no_temporary_file(tmp_path: Path) -> None:
    class Broken:
        def categories(self) -> list[str]:
            return ["general"]

        def iter_records(self, categories: object = None, embeddings: bool = False) -> Any:
            yield make_record("general", "a", "b")
            raise RuntimeError("store went away")

    out = tmp_path / "data.jsonl"
    with pytest.raises(RuntimeError):
        export_store(Broken(), out)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
