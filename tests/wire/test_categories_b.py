"""Every group-b category in ONE engine run against the scripted test server.

The script (tests/support/scripts/b.yaml) answers each category's prompts with
well-formed output and cycles in malformed replies; the run must reach every target
exactly, every stored record must pass its category's code checks, and every category
must have rejected something with the reason its checks or parsers give.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from airloom.backends.scripted import ScriptedBackend
from airloom.checks import checks_for
from airloom.checks.logs import parse_question
from airloom.config_load import load_config_text
from airloom.engine.runner import Engine
from airloom.export.writers import export_run
from airloom.formats.closed_context import parse_closed_context
from airloom.formats.records import Record, Turn
from airloom.formats.rows import airoboros_row, record_from_row, sharegpt_row
from airloom.reasons import Reason
from airloom.store.database import Store

SCRIPT = Path(__file__).resolve().parents[1] / "support" / "scripts" / "b.yaml"

TARGETS = {
    "cot": 4,
    "agent": 5,
    "plan": 3,
    "multiple_choice": 4,
    "detailed_writing": 3,
    "summarization": 3,
    "rules": 4,
    "mathjson": 4,
    "log_extraction": 5,
    "anonymization": 4,
    "quiz": 3,
    "theory_of_mind": 3,
    "greeting": 3,
}

CONFIG = {
    "model": "teacher-b",
    "embedding_model": "hashing",
    "seed": 7,
    "retry": {"max_attempts": 3, "backoff_initial": 0.01, "backoff_max": 0.1, "timeout": 10},
    "concurrency": {"max_requests": 8},
    "instructors": {
        "cot": {"count": 4, "batch_size": 3},
        "agent": {"count": 5, "batch_size": 2},
        "plan": {"count": 3, "batch_size": 2},
        "multiple_choice": {"count": 4, "batch_size": 3},
        "detailed_writing": {
            "count": 3,
            "batch_size": 2,
            "word_count": 100,
            "word_count_jitter": 0.0,
            "parts": 2,
        },
        "summarization": {
            "count": 3,
            "batch_size": 2,
            "source_words": 150,
            "min_summary_words": 20,
            "max_summary_words": 40,
        },
        "rules": {"count": 4, "batch_size": 2},
        "mathjson": {"count": 4, "batch_size": 2},
        "log_extraction": {"count": 5, "batch_size": 3},
        "anonymization": {"count": 4, "batch_size": 2},
        "quiz": {"count": 3, "batch_size": 2},
        "theory_of_mind": {"count": 3, "batch_size": 2},
        "greeting": {"count": 3, "batch_size": 2},
    },
}

#: The reject reasons each category's script must provoke.
EXPECTED_REJECTS = {
    "cot": Reason.FAILED_CHECK,
    "agent": "wrong_function",
    "plan": Reason.FAILED_CHECK,
    "multiple_choice": Reason.FAILED_CHECK,
    "detailed_writing": "wrong_length",
    "summarization": Reason.FAILED_CHECK,
    "rules": Reason.FAILED_CHECK,
    "mathjson": Reason.FAILED_CHECK,
    "log_extraction": Reason.FAILED_CHECK,
    "anonymization": "entities_missing",
    "quiz": Reason.FAILED_CHECK,
    "greeting": "unparseable",
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory):
    from tests.support.openai_server import OpenAIServer

    tmp_path = tmp_path_factory.mktemp("group_b")
    (tmp_path / "topics.txt").write_text("\n".join(f"topic number {i}" for i in range(40)))
    with OpenAIServer(backend=ScriptedBackend.from_file(SCRIPT)) as server:
        config = load_config_text(
            yaml.safe_dump({**CONFIG, "base_url": server.url}), source="group-b.yaml"
        )
        engine = Engine(config, base_dir=tmp_path)
        stats = asyncio.run(engine.run())
        export_run(config, tmp_path)  # what `airloom generate` writes after the run
        with Store.open(tmp_path / "instructions.airloom.db", create=False) as store:
            records = list(store.iter_records())
            counts = store.counts()
    return stats, records, counts, tmp_path


def by_category(records: list[Record], category: str) -> list[Record]:
    return [r for r in records if r.category == category]


def test_every_target_is_reached_exactly(outcome) -> None:
    stats, records, counts, _ = outcome
    assert stats.status == "completed"
    assert counts == TARGETS
    for category, target in TARGETS.items():
        assert stats.categories[category].accepted == target
        assert len(by_category(records, category)) == target  # one record per unit here


def test_rejects_are_counted_with_their_reasons(outcome) -> None:
    stats, *_ = outcome
    for category, reason in EXPECTED_REJECTS.items():
        rejects = stats.categories[category].rejects
        assert rejects[reason] >= 1, (category, dict(rejects))
        assert "error" not in rejects, (category, dict(rejects))  # no instructor crashed
    assert stats.categories["mathjson"].rejects["no_numeric_answer"] >= 1
    assert stats.categories["anonymization"].rejects[Reason.FAILED_CHECK] >= 1
    assert stats.categories["summarization"].rejects[Reason.FAILED_CHECK] >= 1


def test_every_stored_record_passes_its_checks(outcome) -> None:
    _, records, *_ = outcome
    checked = 0
    for record in records:
        for check in checks_for(record.category):
            verdict = check(record)
            assert verdict.ok, (record.category, verdict.reason, record.response[:200])
            checked += 1
        # ... and the same checks pass on the exported row (no meta, JSON round trip)
        exported = record_from_row(json.loads(json.dumps(airoboros_row(record))))
        if record.category not in ("rules",):
            for check in checks_for(record.category):
                assert check(exported).ok, (record.category, check.__name__)
    assert checked == sum(TARGETS.values()) - TARGETS["theory_of_mind"] - TARGETS["greeting"]


def test_record_shapes(outcome) -> None:
    _, records, *_ = outcome
    for record in by_category(records, "cot"):
        assert record.response.startswith("Solution 1:\n") and "**" not in record.response
        assert "\nBest and final answer: 12" in record.response
    for record in by_category(records, "agent"):
        assert "\nAvailable functions:\n" in record.instruction
        assert record.meta["function"] == "pick_weather"
        value = (json.loads if record.meta["format"] == "json" else yaml.safe_load)(record.response)
        assert value["function"] == "pick_weather" and isinstance(value["params"]["city"], str)
    for record in by_category(records, "plan"):
        assert record.instruction.startswith("Please construct a systematic plan")
        assert "Here is an example" not in record.instruction
        assert record.response.endswith("Answer: :evidence3:")
    for record in by_category(records, "detailed_writing"):
        assert record.instruction.endswith("Your response should be approximately 100 words.")
    for record in by_category(records, "summarization"):
        prompt = parse_closed_context(record.instruction)
        assert prompt.instruction.startswith("Summarize the input in around ")
    for record in by_category(records, "mathjson"):
        assert record.instruction.startswith("Create a MathJSON solution to the following: ")
        assert record.meta["value"] == record.meta["expected"]
    for record in by_category(records, "log_extraction"):
        assert parse_question(parse_closed_context(record.instruction).instruction)
    for record in by_category(records, "greeting"):
        assert record.system.startswith("You are a ")
    for record in by_category(records, "rules"):
        turns = record.conversation
        assert record.system and turns[0].role == "user" and turns[1].content == "OK"
        assert turns[-1] == Turn("assistant", record.response)


def test_exports_airoboros_and_sharegpt(outcome) -> None:
    _, records, _, tmp_path = outcome
    lines = (tmp_path / "instructions.jsonl").read_text().splitlines()
    exported = [json.loads(line) for line in lines]
    assert len(exported) == sum(TARGETS.values())
    assert {row["category"] for row in exported} == set(TARGETS)
    for row in exported:
        assert set(row) <= {"instruction", "response", "category", "system", "conversation"}
        assert ("conversation" in row) is (row["category"] == "rules")  # multi-turn rows
    for record in records:
        turns = sharegpt_row(record)["conversations"]
        roles = [t["from"] for t in turns]
        body = roles[1:] if roles[0] == "system" else roles
        assert body == ["human", "gpt"] * (len(body) // 2), record.category
        if record.category == "rules":
            assert roles[0] == "system" and len(body) >= 6
            assert [t["value"] for t in turns[2::2]][:-1] == ["OK"] * (len(body) // 2 - 1)
        if record.category == "greeting":
            assert roles == ["system", "human", "gpt"]


def test_budget_stop_and_resume_reach_exact_counts_without_paying_twice(tmp_path) -> None:
    from tests.support.openai_server import OpenAIServer

    (tmp_path / "topics.txt").write_text("\n".join(f"topic number {i}" for i in range(40)))
    chosen = ("rules", "agent", "detailed_writing", "anonymization", "log_extraction")
    sections = {name: CONFIG["instructors"][name] for name in chosen}
    with OpenAIServer(backend=ScriptedBackend.from_file(SCRIPT)) as server:

        def run(extra: dict) -> object:
            data = {**CONFIG, "base_url": server.url, "instructors": sections, **extra}
            config = load_config_text(yaml.safe_dump(data), source="resume.yaml")
            return asyncio.run(Engine(config, base_dir=tmp_path).run())

        first = run({"budget": {"max_requests": 12}})
        assert first.status == "budget"
        with Store.open(tmp_path / "instructions.airloom.db", create=False) as store:
            partial = store.counts()
        assert sum(partial.values()) < sum(TARGETS[name] for name in chosen)
        second = run({})
        assert second.status == "completed"
        with Store.open(tmp_path / "instructions.airloom.db", create=False) as store:
            counts, totals = store.counts(), store.totals()
            records = list(store.iter_records())
        assert counts == {name: TARGETS[name] for name in chosen}
        assert totals.requests == server.state.completed  # nothing paid twice
        assert len({r.instruction for r in records}) == len(records)


GARBAGE = [
    "I have no idea what you mean.",
    "TSK 1.",
    '{"functions": [{"name": "a"',
    "QUESTION: only a question",
    "PROBLEM: how many?\nANSWER: many",
    "<mathjson>[</mathjson>",
    "```\n```",
    "PERSONA: someone\nGREETING:",
    "REQUEST: a quiz\nQUIZ: 1. ?",
    "Plan: think.\n:evidence0: = Nothing[",
    "Solution 1:\nFinal answer:",
]


def test_garbage_teacher_stalls_every_category_without_errors(tmp_path) -> None:
    from tests.support.openai_server import OpenAIServer

    (tmp_path / "topics.txt").write_text("\n".join(f"topic number {i}" for i in range(40)))
    backend = ScriptedBackend.from_rules([{"match": ".*", "reply": GARBAGE}])
    sections = {name: {**section, "count": 2} for name, section in CONFIG["instructors"].items()}
    with OpenAIServer(backend=backend) as server:
        data = {**CONFIG, "base_url": server.url, "instructors": sections}
        config = load_config_text(yaml.safe_dump(data), source="garbage.yaml")
        stats = asyncio.run(Engine(config, base_dir=tmp_path).run())
    for name in sections:
        category = stats.categories[name]
        assert category.state == "stalled", (name, category.state)
        assert category.accepted == 0 and sum(category.rejects.values()) > 0
        assert "error" not in category.rejects, (name, dict(category.rejects))
