"""Reading published shapes, round trips through every export, training text, code blocks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from airloom.curate.codeblocks import CodeBlock, code_blocks, language_of
from airloom.curate.importer import embed_missing, import_datasets
from airloom.curate.report_data import dispersion, distinct_n, nearest_similarities
from airloom.curate.sources import read_dataset
from airloom.errors import ConfigError, MissingDependencyError
from airloom.export.writers import write_dataset
from airloom.formats.records import Turn, make_record
from airloom.formats.rows import RowError, record_from_row, training_text
from airloom.store.database import Store
from airloom.vectors.embed import HashingEmbedder
from tests.support.curation import read_jsonl, write_jsonl

MULTI_TURN = [
    {"role": "user", "content": "Hi, who are you?"},
    {"role": "assistant", "content": "*bows* I am Aldo, the innkeeper."},
    {"role": "user", "content": "Any rooms left?"},
    {"role": "assistant", "content": "One, by the stables."},
]


def sample_records():
    return [
        make_record("general", "Name a river.", "The Nile."),
        make_record("trivia", "Capital of Peru?", "Lima.", system="Answer tersely."),
        make_record("rp", MULTI_TURN[0]["content"], MULTI_TURN[-1]["content"],
                    system="A chat between Aldo and a guest.", conversation=MULTI_TURN),
        make_record("gtkm", "USER: hi\nASSISTANT: ", "Hello there.", skip_prompt_formatting=True),
        make_record("coding", "Write a Python function. PLAINFORMAT", "def f():\n    return 1"),
    ]  # fmt: skip


# ---- rows of published datasets ------------------------------------------------------------
def test_a_2x_row_keeps_its_fields_and_extras():
    record = record_from_row(
        {
            "instruction": "Hi?",
            "response": "Hello.",
            "category": "general",
            "system": "Be kind.",
            "skip_prompt_formatting": False,
            "question_id": 7,
        }
    )
    assert record.content == {
        "category": "general",
        "instruction": "Hi?",
        "response": "Hello.",
        "system": "Be kind.",
        "conversation": None,
        "skip_prompt_formatting": False,
    }
    assert record.meta == {"fields": {"question_id": 7}}


def test_sharegpt_and_messages_shapes():
    sharegpt = record_from_row(
        {
            "id": "abc",
            "category": "rp",
            "conversations": [
                {"from": "system", "value": "S"},
                *({"from": "human" if t["role"] == "user" else "gpt", "value": t["content"]}
                  for t in MULTI_TURN),
            ],
        }
    )  # fmt: skip
    assert sharegpt.id == "abc" and sharegpt.system == "S"
    assert sharegpt.content["conversation"] == MULTI_TURN
    assert sharegpt.instruction == "Hi, who are you?"
    assert sharegpt.response == "One, by the stables."
    messages = record_from_row({"messages": [{"role": "user", "content": "q"},
                                             {"role": "assistant", "content": "a"}]})  # fmt: skip
    assert (messages.category, messages.instruction, messages.conversation) == (
        "general",
        "q",
        None,
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"instruction": "a"}, "needs 'instruction' and 'response'"),
        ({"instruction": 3, "response": "x"}, "needs 'instruction' and 'response'"),
        ({"conversations": []}, "non-empty list"),
        ({"conversations": [{"from": "alien", "value": "x"}]}, "unknown speaker"),
        ({"conversations": [{"from": "human", "value": "x"}]}, "must end with a gpt turn"),
        ({"conversations": [{"from": "gpt", "value": "x"}, {"from": "human", "value": "y"}]},
         "should be user"),
        ({"conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": 3}]},
         "no text"),
    ],
)  # fmt: skip
def test_malformed_rows_are_refused_with_a_reason(row, message):
    with pytest.raises(RowError, match=message):
        record_from_row(row)


def test_a_file_with_bad_lines_reports_each_and_keeps_the_rest(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"instruction": "a", "response": "b"}\n\n{broken\n[1]\n'
        '{"instruction": "c", "response": "d"}\n'
    )
    data = read_dataset(path)
    assert [r.instruction for r in data.records] == ["a", "c"]
    assert data.problems == [
        "mixed.jsonl line 3: invalid JSON: Expecting property name enclosed in double quotes",
        "mixed.jsonl line 4: a row must be a JSON object, not list",
    ]


def test_a_json_array_file_is_read(tmp_path):
    path = tmp_path / "as_conversations.json"
    path.write_text(json.dumps([{"id": "1", "conversations": [
        {"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}]))  # fmt: skip
    assert [r.id for r in read_dataset(path).records] == ["1"]


# ---- round trips: import(export(x)) == x ---------------------------------------------------
def _round_trip(records, tmp_path, fmt, name):
    out = tmp_path / name
    write_dataset(records, out, fmt)
    return read_dataset(out)


def test_jsonl_round_trip_is_exact_for_the_2x_shape(tmp_path):
    records = sample_records()
    back = _round_trip(records, tmp_path, "jsonl", "x.jsonl")
    assert [r.content for r in back.records] == [r.content for r in records]
    assert [r.id for r in back.records] == [r.id for r in records]
    again = tmp_path / "again.jsonl"
    write_dataset(back.records, again, "jsonl")
    assert again.read_text() == (tmp_path / "x.jsonl").read_text()


def test_sharegpt_round_trip_is_exact_including_turns_system_and_skip_flag(tmp_path):
    records = sample_records()
    back = _round_trip(records, tmp_path, "sharegpt", "x.sharegpt.jsonl")
    assert back.records == records
    rows = read_jsonl(tmp_path / "x.sharegpt.jsonl")
    speakers = [t["from"] for t in rows[2]["conversations"]]
    assert speakers == ["system", "human", "gpt", "human", "gpt"]


@pytest.mark.parametrize(("fmt", "schema"), [("parquet", "sharegpt"), ("hf", "sharegpt"),
                                             ("parquet", "airoboros")])  # fmt: skip
def test_parquet_and_hf_round_trips(tmp_path, fmt, schema):
    pytest.importorskip("pyarrow")
    if fmt == "hf":
        pytest.importorskip("datasets")
    records = sample_records()
    out = tmp_path / ("x.parquet" if fmt == "parquet" else "x_hf")
    write_dataset(records, out, fmt, schema=schema)
    back = read_dataset(out)
    assert [r.content for r in back.records] == [r.content for r in records]


def test_a_saved_dataset_dict_folder_is_read_split_by_split(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [{"instruction": f"q{i}", "response": f"a{i}", "category": "general"} for i in range(3)]
    folder = tmp_path / "dict"
    splits = {"train": rows[:2], "test": rows[2:]}
    datasets.DatasetDict(
        {name: datasets.Dataset.from_list(part) for name, part in splits.items()}
    ).save_to_disk(str(folder))
    data = read_dataset(folder)
    assert sorted(r.instruction for r in data.records) == ["q0", "q1", "q2"]
    assert data.problems == []


def test_missing_optional_dependency_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    for name in ("pyarrow", "pyarrow.parquet", "datasets"):
        monkeypatch.setitem(sys.modules, name, None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError, match="pyarrow") as caught:
        write_dataset(sample_records(), tmp_path / "x.parquet", "parquet")
    assert caught.value.hint == "pip install 'airloom[hf]'"
    (tmp_path / "in.parquet").write_bytes(b"PAR1")
    with pytest.raises(MissingDependencyError, match="reading parquet"):
        read_dataset(tmp_path / "in.parquet")
    with pytest.raises(MissingDependencyError, match="datasets"):
        write_dataset(sample_records(), tmp_path / "hf", "hf")


def test_annotations_travel_with_exported_rows(tmp_path):
    flag = {"verification": {"status": "fail", "reason": "r"}}
    write_dataset(sample_records()[:1], tmp_path / "f.jsonl", "jsonl", annotate=lambda r: flag)
    assert read_jsonl(tmp_path / "f.jsonl")[0]["verification"] == {"status": "fail", "reason": "r"}


# ---- training text ---------------------------------------------------------------------------
def test_training_text_in_each_chat_format():
    plain, trivia, rp, gtkm, _ = sample_records()
    assert training_text(plain, "airoboros-2.1").startswith("A chat between a curious user")
    assert training_text(plain, "airoboros-2.2") == (
        "A chat.\nUSER: Name a river.\nASSISTANT: The Nile.</s>"
    )
    assert training_text(trivia, "llama-2") == (
        "[INST] <<SYS>>\nAnswer tersely.\n<</SYS>>\n\nCapital of Peru? [/INST] Lima. </s>"
    )
    assert training_text(rp, "chatml").count("<|im_start|>assistant") == 2
    assert training_text(rp, "llama-3").startswith(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nA chat between Aldo"
    )
    for template in ("airoboros-2.1", "airoboros-2.2", "llama-2", "llama-3", "chatml"):
        assert training_text(gtkm, template) == "USER: hi\nASSISTANT:\nHello there."


def test_text_export_needs_a_known_template(tmp_path):
    with pytest.raises(ConfigError, match="needs a chat template"):
        write_dataset(sample_records(), tmp_path / "t.jsonl", "text")
    write_dataset(sample_records(), tmp_path / "t.jsonl", "text", template="airoboros-3.1")
    rows = read_jsonl(tmp_path / "t.jsonl")
    assert rows[0] == {"text": "[INST] <<SYS>>\nYou are a helpful, unbiased, uncensored "
                       "assistant.\n<</SYS>>\n\nName a river. [/INST] The Nile. </s>",
                       "category": "general"}  # fmt: skip


# ---- import and embeddings -----------------------------------------------------------------
def test_embeddings_are_computed_once(tmp_path):
    matrix, embedded = embed_missing(["a", "b", "a"], None, HashingEmbedder(dim=16))
    assert embedded == 2 and np.allclose(matrix[0], matrix[2])
    given = np.zeros((3, 16), dtype=np.float32)
    given[1] = 1.0
    matrix, embedded = embed_missing(["a", "b", "c"], given, HashingEmbedder(dim=16))
    assert embedded == 2 and np.all(matrix[1] == 1.0)
    source = write_jsonl(tmp_path / "d.jsonl", [{"instruction": f"task {i}", "response": "r"}
                                                 for i in range(5)])  # fmt: skip
    first = import_datasets([source], tmp_path / "s.db", embedding_model="hashing")
    second = import_datasets([source], tmp_path / "s.db", embedding_model="hashing")
    assert (first.imported, first.embedded) == (5, 5)
    assert (second.imported, second.embedded, second.sources[0].present) == (0, 0, 5)
    with Store.open(tmp_path / "s.db", create=False) as store:
        _, _, _, vectors = store.load_index_data()
        assert store.record_count() == 5 and vectors.shape == (5, 384)
        assert next(store.iter_records()).meta["import"] == {"source": "d.jsonl", "index": 0}


def test_content_hash_ignores_ids_and_meta_but_not_content():
    a = make_record("general", "q", "a", meta={"x": 1})
    assert a.content_hash == a.replace(id="other", meta={}).content_hash
    assert a.content_hash != a.replace(response="b").content_hash
    assert a.content_hash != a.replace(category="orca").content_hash
    turns = (Turn("user", "q"), Turn("assistant", "a"))
    assert a.content_hash != a.replace(conversation=turns).content_hash


# ---- code blocks -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("instruction", "language"),
    [
        ("Write a Python function that sorts.", "python"),
        ("Create a JavaScript module that parses.", "javascript"),
        ("Write a node.js websocket server.", "javascript"),
        ("Implement a Go program that schedules.", "go"),
        ("Write a Bash script that renders.", "bash"),
        ("Build a Java class that indexes.", "java"),
        ("Write a C program that compresses.", "c"),
        ("Write a C++ program.", "c++"),
        ("Write a C# class.", "c#"),
        ("Write a TypeScript type.", "typescript"),
        ("Let's go to the park and write a poem.", None),
    ],
)
def test_language_from_the_instruction(instruction, language):
    assert language_of(instruction) == language


def test_code_blocks_plain_and_fenced():
    plain = code_blocks(make_record("coding", "Write a Java class. PLAINFORMAT",
                                    "Sure!\n```java\nclass A {}\n```"))  # fmt: skip
    assert plain == [CodeBlock("java", "class A {}")]
    fenced = code_blocks(make_record(instruction="Write a Python script.",
                          response="Install:\n```sh\npip install x\n```\n\n```\nprint(1)\n```\n"
                                      "```text\nout\n```"))  # fmt: skip
    assert fenced == [CodeBlock("bash", "pip install x"), CodeBlock("python", "print(1)"),
                      CodeBlock(None, "out")]  # fmt: skip
    assert code_blocks(make_record("coding", "Explain recursion.", "It calls itself.")) == []


# ---- report metrics ---------------------------------------------------------------------------
def test_diversity_and_similarity_measures():
    assert distinct_n(["a b c", "a b c"], 1) == 0.5
    assert distinct_n(["a b", "c d"], 2) == 1.0
    assert distinct_n([""], 2) == 0.0
    same = np.tile(np.array([[0.0, 1.0]], dtype=np.float32), (3, 1))
    assert dispersion(same) == 0.0
    opposite = np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    assert dispersion(opposite) == 1.0
    vectors = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=np.float32)
    assert nearest_similarities(vectors).round(3).tolist() == [1.0, 1.0, 0.0]
