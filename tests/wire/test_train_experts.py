"""`airloom experts split` on a planted store, then `airloom train --experts` per expert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airloom.curate.sources import read_dataset
from airloom.export.writers import write_dataset
from airloom.formats.records import make_record
from tests.support.tiny_model import tiny_cli

PLANTED = {"coding": 40, "trivia": 25, "joke": 12, "cot": 30, "agent": 9, "mystery": 11}


@pytest.fixture
def store(tmp_path) -> Path:
    records = []
    for category, count in PLANTED.items():
        for index in range(count):
            system = "A chat." if index % 2 else None
            records.append(
                make_record(category, f"{category} question {index}?", "Answer.", system=system)
            )
    path = tmp_path / "planted.db"
    write_dataset(records, path, "store")
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_split_gives_exact_per_expert_counts(store, tmp_path):
    out = tmp_path / "lmoe"
    done = tiny_cli("experts", "split", str(store), "--out", str(out), "--seed", "7", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # own categories whole; every other category min(500, floor(10% of n)); 'mystery' → general
    expected = {
        "code": {"coding": 40, "trivia": 2, "joke": 1, "cot": 3, "mystery": 1},
        "general": {"trivia": 25, "mystery": 11, "coding": 4, "joke": 1, "cot": 3},
        "creative": {"joke": 12, "coding": 4, "trivia": 2, "cot": 3, "mystery": 1},
        "reasoning": {"cot": 30, "coding": 4, "trivia": 2, "joke": 1, "mystery": 1},
        "function": {"agent": 9, "coding": 4, "trivia": 2, "joke": 1, "cot": 3, "mystery": 1},
        "qa": {"coding": 4, "trivia": 2, "joke": 1, "cot": 3, "mystery": 1},
    }
    for expert, counts in expected.items():
        data = read_dataset(out / "training_data" / f"expert_{expert}.jsonl")
        assert not data.problems
        got: dict[str, int] = {}
        for record in data.records:
            got[record.category] = got.get(record.category, 0) + 1
        assert got == counts, expert
        assert (out / "adapters" / expert / "description.txt").read_text().strip()
    routing = _lines(out / "routing_data" / "expert_general.jsonl")
    assert len(routing) == 25 + 11
    assert {"instruction": "A chat. trivia question 1?"} in routing
    assert {"instruction": "trivia question 0?"} in routing
    assert _lines(out / "routing_data" / "expert_qa.jsonl") == []
    manifest = json.loads((out / "experts.json").read_text())
    assert manifest["counts"]["code"] == expected["code"] and manifest["seed"] == 7
    # seeded: the same seed picks the same cross-samples, another seed others
    again = tmp_path / "again"
    tiny_cli("experts", "split", str(store), "--out", str(again), "--seed", "7", cwd=tmp_path)
    name = "training_data/expert_code.jsonl"
    assert (again / name).read_text() == (out / name).read_text()


def test_train_experts_writes_one_adapter_per_expert(store, tmp_path):
    pytest.importorskip("trl")
    from tests.support.tiny_model import tiny_model_dir

    base = tiny_model_dir(tmp_path / "base")
    out = tmp_path / "lmoe"
    split = tiny_cli(
        "experts", "split", str(store), "--out", str(out),
        "--expert", "code=coding", "--expert", "general=trivia,joke", cwd=tmp_path,
    )  # fmt: skip
    assert split.returncode == 0, split.stderr
    done = tiny_cli(
        "train", "--experts", str(out), "--set", f"base_model={base}", "--set", "max_steps=2",
        "--set", "eval_fraction=0", "--set", "lora.r=4", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for expert in ("code", "general"):
        folder = out / "adapters" / expert
        assert (folder / "adapter_config.json").is_file()
        assert (folder / "description.txt").is_file()
        summary = json.loads((folder / "training_summary.json").read_text())
        assert summary["steps"] == 2
    code = json.loads((out / "adapters" / "code" / "training_summary.json").read_text())
    assert code["data"]["used"] == 40 + 2 + 1 + 3 + 0 + 1  # coding + 10% of the others
