"""Every registered category in ONE `generate` against the scripted test server.

The scripts of the three category groups and the built-in demo script are combined
(specific rules first, the demo's catch-all last); the run must reach every target
exactly, each stored record must pass the checks registered for its category, and both
export formats must hold every training record (character cards stay out).
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from airloom.backends.scripted import ScriptedBackend
from airloom.checks import checks_for
from airloom.config_load import load_config_text
from airloom.engine.runner import Engine
from airloom.export.writers import export_store
from airloom.instructors.registry import available_instructors
from airloom.store.database import Store
from tests.support.openai_server import OpenAIServer
from tests.wire import test_categories_a as group_a
from tests.wire import test_categories_b as group_b
from tests.wire import test_categories_c as group_c

SCRIPTS = Path(__file__).resolve().parents[1] / "support" / "scripts"
FIRST_THREE = {
    "general": {"count": 6, "batch_size": 3},
    "contextual": {"count": 3, "batch_size": 2},
    "coding": {"count": 4, "batch_size": 2},
}


def _rules(text: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load(text)["rules"])


def combined_backend() -> ScriptedBackend:
    rules: list[dict[str, Any]] = []
    for group in ("a", "b", "c"):
        rules += _rules((SCRIPTS / f"{group}.yaml").read_text(encoding="utf-8"))
    demo = resources.files("airloom.backends").joinpath("scripts", "demo.yaml")
    rules += _rules(demo.read_text(encoding="utf-8"))
    return ScriptedBackend.from_rules(rules)


def all_sections() -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = dict(FIRST_THREE)
    sections.update(
        {
            name: {"count": count, "batch_size": batch}
            for name, (count, batch) in group_a.TARGETS.items()
        }
    )
    sections["experience"].update(word_count=60, min_word_ratio=0.5)
    sections.update(group_b.CONFIG["instructors"])
    for name, section in group_c.SECTIONS.items():
        extra = {"similarity_threshold": 0.995} if name in group_c.TEMPLATE_SESSIONS else {}
        sections[name] = {**section, **extra}
    return sections


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("all_categories")
    (tmp_path / "topics.txt").write_text("\n".join(f"topic {i}" for i in range(60)))
    sections = all_sections()
    data = {
        "model": "teacher",
        "embedding_model": "hashing",
        "seed": 9,
        "retry": {"max_attempts": 3, "backoff_initial": 0.01, "backoff_max": 0.1, "timeout": 10},
        "concurrency": {"max_requests": 8},
        "instructors": sections,
    }
    with OpenAIServer(backend=combined_backend()) as server:
        data["base_url"] = server.url
        config = load_config_text(yaml.safe_dump(data), source="all.yaml")
        stats = asyncio.run(Engine(config, base_dir=tmp_path).run())
    with Store.open(tmp_path / "instructions.airloom.db", create=False) as store:
        records = list(store.iter_records())
        counts = store.counts()
        jsonl = export_store(store, tmp_path / "all.jsonl", "jsonl")
        sharegpt = export_store(store, tmp_path / "all.sharegpt.jsonl", "sharegpt")
    return {
        "stats": stats,
        "records": records,
        "counts": counts,
        "sections": sections,
        "tmp": tmp_path,
        "jsonl": jsonl,
        "sharegpt": sharegpt,
    }


def test_the_run_covers_every_registered_category(outcome: dict[str, Any]) -> None:
    assert set(outcome["sections"]) == set(available_instructors())


def test_every_target_is_reached_exactly(outcome: dict[str, Any]) -> None:
    stats = outcome["stats"]
    assert stats.status == "completed", stats.message
    targets = {name: section["count"] for name, section in outcome["sections"].items()}
    assert outcome["counts"] == targets
    for name, target in targets.items():
        assert stats.categories[name].accepted == target, name


def test_every_record_passes_its_categorys_checks(outcome: dict[str, Any]) -> None:
    checked = 0
    for record in outcome["records"]:
        for check in checks_for(record.category):
            verdict = check(record)
            assert verdict.ok, (record.category, verdict.reason, record.instruction[:200])
            checked += 1
    assert checked > 50


def test_exports_hold_every_training_record(outcome: dict[str, Any]) -> None:
    registry = available_instructors()
    training = [r for r in outcome["records"] if registry[r.category].exported]
    assert outcome["jsonl"] == outcome["sharegpt"] == len(training)
    rows = [json.loads(line) for line in (outcome["tmp"] / "all.sharegpt.jsonl").open()]
    assert "character" not in {row["category"] for row in rows}
    for row in rows:
        roles = [turn["from"] for turn in row["conversations"] if turn["from"] != "system"]
        assert roles[0] == "human" and roles[-1] == "gpt", row["category"]
