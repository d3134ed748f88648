"""Merging two versions of a dataset: planted exact and near duplicates, a dropped category."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from airloom.cli.main import cli
from airloom.curate.importer import import_datasets
from airloom.curate.merge import MergeOptions, merge_sources
from tests.support.curation import read_jsonl, write_jsonl

V2 = [  # the newer version, given first
    {"instruction": "Write a haiku about the sea.", "response": "Waves fold into foam.",
     "category": "general"},
    {"instruction": "You are a pirate. Greet me.", "response": "Ahoy!", "category": "system"},
    {"instruction": "Write a Python function that reverses a string.",
     "response": "def rev(s):\n    return s[::-1]", "category": "coding"},
    {"instruction": "What is the capital of Peru?", "response": "Lima.", "category": "trivia"},
    {"instruction": "List three uses of copper in electrical wiring.",
     "response": "Cables, motors, busbars.", "category": "general"},
]  # fmt: skip
V1 = [  # the older version
    {"instruction": "write a haiku about  the SEA.", "response": "Salt wind, gull cries.",
     "category": "general"},  # exact duplicate of V2[0] (case and spaces)
    {"instruction": "What is the capital city of Peru?", "response": "Lima, on the coast.",
     "category": "trivia"},  # near duplicate of V2[3]
    {"instruction": "Explain photosynthesis to a child.", "response": "Plants eat light.",
     "category": "general"},  # new
    {"instruction": "Pretend to be a robot.", "response": "Beep.", "category": "system"},
    {"instruction": "If a train travels 60 km in 1 hour, how far does it go in 3 hours?",
     "response": "180 km.", "category": "reasoning_or_math"},  # new, renamed to orca
    {"instruction": "explain photosynthesis  to a CHILD.", "response": "Leaves make sugar.",
     "category": "general"},  # exact duplicate of V1[2], inside the same input
    {"instruction": "Write a Python function that reverses a given string.",
     "response": "def r(s):\n    return ''.join(reversed(s))", "category": "coding"},  # near V2[2]
]  # fmt: skip
OPTIONS = MergeOptions(
    drop=frozenset({"system"}),
    renames={"reasoning_or_math": "orca"},
    threshold=0.75,
    embedding_model="hashing",
)


@pytest.fixture
def versions(tmp_path):
    return write_jsonl(tmp_path / "v2.jsonl", V2), write_jsonl(tmp_path / "v1.jsonl", V1)


def test_first_precedence_gives_exactly_the_expected_survivors(versions):
    result = merge_sources(versions, OPTIONS)
    assert [r.instruction for r in result.records] == [
        V2[0]["instruction"],
        V2[2]["instruction"],
        V2[3]["instruction"],
        V2[4]["instruction"],
        V1[2]["instruction"],
        V1[4]["instruction"],
    ]
    assert [(o.source, o.index) for o in result.origins] == [(0, 0), (0, 2), (0, 3), (0, 4),
                                                            (1, 2), (1, 4)]  # fmt: skip
    assert result.records[-1].category == "orca"
    dropped = [(d.origin.source, d.origin.index, d.reason) for d in result.dropped]
    assert dropped == [
        (0, 1, "category dropped"),
        (1, 0, "exact duplicate"),
        (1, 1, "near duplicate"),
        (1, 3, "category dropped"),
        (1, 5, "exact duplicate"),
        (1, 6, "near duplicate"),
    ]
    instead = {(d.origin.source, d.origin.index): d.kept_instead for d in result.dropped}
    assert (instead[(1, 0)].source, instead[(1, 0)].index) == (0, 0)
    assert (instead[(1, 1)].source, instead[(1, 1)].index) == (0, 3)
    assert (instead[(1, 5)].source, instead[(1, 5)].index) == (1, 2)
    assert (instead[(1, 6)].source, instead[(1, 6)].index) == (0, 2)
    assert all(d.similarity >= 0.75 for d in result.dropped if d.reason == "near duplicate")


def test_last_precedence_lets_the_later_input_win_but_keeps_input_order(versions):
    result = merge_sources(versions, MergeOptions(**{**OPTIONS.__dict__, "precedence": "last"}))
    assert [(o.source, o.index) for o in result.origins] == [(0, 4), (1, 0), (1, 1), (1, 2),
                                                            (1, 4), (1, 6)]  # fmt: skip
    reasons = {(d.origin.source, d.origin.index): d.reason for d in result.dropped}
    assert reasons == {
        (0, 0): "exact duplicate",
        (0, 1): "category dropped",
        (0, 2): "near duplicate",
        (0, 3): "near duplicate",
        (1, 3): "category dropped",
        (1, 5): "exact duplicate",
    }


def test_keep_filter_and_exact_only(versions):
    only = merge_sources(versions, MergeOptions(keep=frozenset({"orca", "trivia"}),
                                                renames={"reasoning_or_math": "orca"},
                                                near=False, embedding_model="hashing"))  # fmt: skip
    assert [r.category for r in only.records] == ["trivia", "trivia", "orca"]
    assert only.embedded == 0  # exact-only merges embed nothing


def test_merging_stores_reuses_their_embeddings(versions, tmp_path):
    stores = []
    for path in versions:
        store = tmp_path / f"{path.stem}.db"
        import_datasets([path], store, embedding_model="hashing")
        stores.append(store)
    result = merge_sources(stores, OPTIONS)
    assert result.embedded == 0
    assert [r.instruction for r in result.records] == [
        r.instruction for r in merge_sources(versions, OPTIONS).records
    ]


def test_the_command_writes_survivors_provenance_drops_and_summary(versions, tmp_path):
    out = tmp_path / "m2.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "merge", str(versions[0]), str(versions[1]), "--drop-category", "system",
            "--rename-category", "reasoning_or_math=orca", "--threshold", "0.75",
            "--embedding-model", "hashing", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary_line = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary_line == {
        "written": 6,
        "out": str(out),
        "read": 12,
        "kept": 6,
        "category dropped": 2,
        "exact duplicate": 2,
        "near duplicate": 2,
    }
    rows = read_jsonl(out)
    assert [r["category"] for r in rows] == ["general", "coding", "trivia", "general", "general",
                                             "orca"]  # fmt: skip
    provenance = read_jsonl(tmp_path / "m2.jsonl.provenance.jsonl")
    assert [(p["input"], p["input_index"]) for p in provenance] == [
        ("v2.jsonl", 0), ("v2.jsonl", 2), ("v2.jsonl", 3), ("v2.jsonl", 4),
        ("v1.jsonl", 2), ("v1.jsonl", 4),
    ]  # fmt: skip
    assert provenance[-1]["renamed_from"] == "reasoning_or_math"
    dropped = read_jsonl(tmp_path / "m2.jsonl.dropped.jsonl")
    assert dropped[2] == {
        "input": "v1.jsonl",
        "input_index": 1,
        "id": dropped[2]["id"],
        "category": "trivia",
        "reason": "near duplicate",
        "kept_instead": {"input": "v2.jsonl", "input_index": 3},
        "similarity": dropped[2]["similarity"],
    }
    summary = json.loads((tmp_path / "m2.jsonl.summary.json").read_text())
    assert summary["inputs"]["1:v1.jsonl"] == {
        "read": 7,
        "kept": 2,
        "exact duplicate": 2,
        "near duplicate": 2,
        "category dropped": 1,
    }


def test_bad_rename_is_a_usage_error(versions, tmp_path):
    result = CliRunner().invoke(
        cli, ["merge", str(versions[0]), "--rename-category", "oops", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "OLD=NEW" in result.output
