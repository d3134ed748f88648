"""``airloom export`` writes the same bytes from a store (``--store``) as from a file read
back (``--from``): system prompts, multi-turn sessions and the skip flag survive both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from airloom.cli.main import cli
from airloom.export import FORMATS
from airloom.store.database import Store
from tests.support.records import one_record_per_category

TEXT_FORMATS = ["jsonl", "sharegpt", "text"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "run.airloom.db"
    with Store.open(path, embedding_model="hashing") as opened:
        opened.commit_batch(one_record_per_category())
    return path


def export(*args: str) -> None:
    result = CliRunner().invoke(cli, ["export", *args])
    assert result.exit_code == 0, result.output


def test_the_format_choices_come_from_the_exporter() -> None:
    from airloom.cli.export_cmd import export as command

    option = next(p for p in command.params if p.name == "fmt")
    assert list(option.type.choices) == list(FORMATS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_store_and_file_give_byte_identical_exports(store: Path, tmp_path: Path, fmt: str) -> None:
    shared = tmp_path / "data.sharegpt.jsonl"
    export("--store", str(store), "--format", "sharegpt", "--out", str(shared))
    template = ["--template", "llama-2"] if fmt == "text" else []
    from_store, from_file = tmp_path / f"store.{fmt}", tmp_path / f"file.{fmt}"
    export("--store", str(store), "--format", fmt, *template, "--out", str(from_store))
    export("--from", str(shared), "--format", fmt, *template, "--out", str(from_file))
    assert from_store.read_bytes() == from_file.read_bytes()


def test_sessions_keep_their_flag_system_and_turns_from_a_store(
    store: Path, tmp_path: Path
) -> None:
    shared, flat = tmp_path / "s.jsonl", tmp_path / "f.jsonl"
    export("--store", str(store), "--format", "sharegpt", "--out", str(shared))
    export("--store", str(store), "--out", str(flat))
    rows = [json.loads(line) for line in shared.read_text(encoding="utf-8").split("\n")[:-1]]
    flats = [json.loads(line) for line in flat.read_text(encoding="utf-8").split("\n")[:-1]]
    assert "character" not in {row["category"] for row in rows}  # cards are not data
    for row, flat_row in zip(rows, flats, strict=True):
        if row["category"] in ("rp", "gtkm", "inline_actions", "introspection"):
            assert row["skip_prompt_formatting"] is True
            assert row["conversations"][0]["from"] == "system"
            assert flat_row["skip_prompt_formatting"] is True and flat_row["system"]
            assert flat_row["conversation"][-1]["role"] == "assistant"


def test_a_store_export_keeps_the_embeddings(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    export("--store", str(store), "--format", "store", "--out", str(copy))
    with Store.open(copy, create=False, read_only=True) as opened:
        assert opened.get_meta("embedding_model") == "hashing"
        assert opened.record_count() == len(one_record_per_category()) - 1  # no card
