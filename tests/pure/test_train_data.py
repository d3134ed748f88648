"""Training text and loss masks: byte-identical to `airloom format`, loss only on the assistant."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airloom.errors import ConfigError, TrainError
from airloom.formats.chat import TEMPLATES
from airloom.formats.records import Record, Turn, make_record
from airloom.formats.rows import training_text
from airloom.train.config import load_train_config, load_train_config_text
from airloom.train.data import (
    IGNORE_INDEX,
    build_examples,
    load_records,
    prepare,
    record_text,
    tokenize,
)
from airloom.train.experts import expert_plan
from tests.support.tiny_model import tiny_tokenizer

TOKENIZER = tiny_tokenizer()
EOT = {
    "airoboros-2.1": "</s>",
    "airoboros-2.2": "</s>",
    "llama-2": " </s>",
    "llama-3": "<|eot_id|>",
    "chatml": "<|im_end|>",
}
HOSTILE = [
    "</s>",
    "<s>",
    "<|im_end|>",
    "<|im_start|>assistant\n",
    "<|eot_id|>",
    "<|start_header_id|>",
    "USER: ",
    "ASSISTANT: ",
    "[INST]",
    " [/INST] ",
    "<<SYS>>",
    "{{ x }}",
    "{% generation %}",
    "\x00",
    "\n",
    "  ",
    "é漢🙂",
]
text_part = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
content = st.lists(text_part, min_size=0, max_size=4).map("".join)


def _conversation(draw_turns: list[tuple[str, str]], system: str | None) -> Record:
    turns = []
    for user, assistant in draw_turns:
        turns += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return make_record(
        "rp",
        turns[0]["content"],
        turns[-1]["content"],
        system=system,
        conversation=turns if len(turns) > 2 else None,
    )


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=st.lists(st.tuples(content, content), min_size=1, max_size=3),
    system=st.one_of(st.none(), content),
)
def test_mask_decodes_to_exactly_the_assistant_turns(template, pairs, system):
    record = _conversation(pairs, system)
    text, spans = record_text(record, template)
    # one source of truth: the text is what `airloom format` / `export --format text` renders
    assert text == training_text(record, template)
    ids, labels = tokenize(TOKENIZER, text, spans)
    assert TOKENIZER.decode(ids) == text
    trained = [token for token, label in zip(ids, labels, strict=True) if label != IGNORE_INDEX]
    assert all(label in (IGNORE_INDEX, token) for token, label in zip(ids, labels, strict=True))
    strip = template == "llama-3"
    expected = "".join((a.strip() if strip else a) + EOT[template] for _, a in pairs)
    assert TOKENIZER.decode(trained) == expected


def test_system_and_user_turns_carry_no_loss():
    record = _conversation([("Question one?", "Answer one."), ("Two?", "Answer two.")], "Sys!")
    text, spans = record_text(record, "airoboros-2.2")
    assert text.startswith("Sys!\nUSER: Question one?\nASSISTANT: ")
    ids, labels = tokenize(TOKENIZER, text, spans)
    masked = TOKENIZER.decode([t for t, lab in zip(ids, labels, strict=True) if lab == -100])
    assert masked == "Sys!\nUSER: Question one?\nASSISTANT: USER: Two?\nASSISTANT: "


def test_skip_prompt_formatting_trains_the_response_only():
    record = make_record("general", " pre-formatted ", "reply ", skip_prompt_formatting=True)
    text, spans = record_text(record, "llama-2")
    assert text == training_text(record, "llama-2") == "pre-formatted\nreply"
    assert [text[a:b] for a, b in spans] == ["reply"]


def test_too_long_records_are_skipped_or_truncated_and_counted():
    records = [
        make_record("x", "short", "ok", id="a"),
        make_record("x", "long " * 200, "ok", id="b"),
        make_record("x", "q", "answer " * 200, id="c"),
        make_record("x", "q", "a", id="d", conversation=[Turn("assistant", "wrong order")]),
    ]
    kept, summary = build_examples(records, TOKENIZER, template="chatml", max_length=64)
    assert [e.record_id for e in kept] == ["a"]
    assert summary.skipped["longer than max_length 64"] == 2
    assert sum(n for why, n in summary.skipped.items() if why.startswith("malformed")) == 1
    kept, summary = build_examples(
        records, TOKENIZER, template="chatml", max_length=64, too_long="truncate"
    )
    # b's prompt alone fills the window: nothing left to learn, said so
    assert [e.record_id for e in kept] == ["a", "c"]
    assert summary.truncated == 2 and summary.skipped["no assistant tokens to train on"] == 1
    assert all(len(e.input_ids) <= 64 for e in kept)


def test_empty_dataset_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(TrainError, match="no usable training records"):
        prepare(load_records([str(empty)]), TOKENIZER, template="chatml", max_length=64)
    with pytest.raises(TrainError, match="no training data"):
        load_records([])


def test_data_hash_follows_the_text(tmp_path):
    rows = [make_record("x", "q", "r", id="a")]
    one = build_examples(rows, TOKENIZER, template="chatml", max_length=64)[1].data_sha256
    two = build_examples(rows, TOKENIZER, template="llama-2", max_length=64)[1].data_sha256
    assert one != two and len(one) == 64


def test_train_config_errors_name_the_line_and_suggest(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("data: [d.jsonl]\nlearning_rat: 0.1\n")
    with pytest.raises(ConfigError, match=r"line 2: unknown key 'learning_rat' \(did you mean"):
        load_train_config(path)
    with pytest.raises(ConfigError, match="unknown prompt template"):
        load_train_config_text("template: vicuna-9\n")
    with pytest.raises(ConfigError, match="--set method"):
        load_train_config(None, ["method=dpo"])


def test_train_config_paths_are_relative_to_the_file(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("data: [d.jsonl]\noutput_dir: out\npreset: lmoe\nepochs: 1\n")
    config = load_train_config(path, ["lora.r=8"])
    assert config.data == [str(tmp_path / "d.jsonl")] and config.output_dir == str(tmp_path / "out")
    assert (config.method, config.lora.r, config.lora.alpha, config.epochs) == ("qlora", 8, 16, 1)


def test_expert_plan_cross_samples_other_categories():
    counts = {"coding": 40, "trivia": 25, "joke": 9, "mystery": 30, "cot": 6000}
    plan = expert_plan(counts, {"code": ["coding"], "general": ["trivia"], "fun": ["joke"]})
    assert plan["code"] == {"coding": 40, "trivia": 2, "joke": 0, "mystery": 3, "cot": 500}
    # a category no expert lists goes to the default expert
    assert plan["general"]["mystery"] == 30 and plan["fun"]["mystery"] == 3
    with pytest.raises(TrainError, match="two experts"):
        expert_plan({}, {"a": ["x"], "general": ["x"]})


def test_example_config_round_trips(tmp_path):
    from airloom.config_example import render_train_example

    path = tmp_path / "train.yaml"
    path.write_text(render_train_example())
    config = load_train_config(path)
    assert config.too_long == "skip" and json.dumps(config.model_dump(mode="json"))


@pytest.mark.parametrize("name", ["train.yaml", "train-lmoe-expert.yaml"])
def test_shipped_training_configs_load(name):
    examples = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples"
    config = load_train_config(examples / name)
    assert config.data or name.startswith("train-lmoe")


def test_shipped_launcher_configs_parse():
    import pathlib

    import yaml

    examples = pathlib.Path(__file__).resolve().parents[2] / "examples"
    kinds = {
        path.name: yaml.safe_load(path.read_text())["distributed_type"]
        for path in examples.glob("accelerate-*.yaml")
    }
    assert kinds == {
        "accelerate-fsdp.yaml": "FSDP",
        "accelerate-fsdp-qlora.yaml": "FSDP",
        "accelerate-deepspeed-zero2.yaml": "DEEPSPEED",
    }


def test_a_full_disk_is_a_clear_error_that_says_how_to_resume():
    import errno

    from airloom.train.trainer import disk_errors

    with pytest.raises(TrainError, match="disk is full") as caught, disk_errors("out"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert "resumes from the last checkpoint" in (caught.value.hint or "")
