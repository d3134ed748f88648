"""The character-based categories through one Engine against the scripted test server.

One run with character, rp, stylized_response, gtkm, awareness, inline_actions and
introspection enabled (script: tests/support/scripts/c.yaml): exact counts per unit,
rejects counted with reasons, the fields of every category, both exports, the
dependency order, the rp api_params on every call, a clean end when sources run out,
and exact counts after a budget stop and a resume.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from pathlib import Path

import pytest
import yaml

from airloom.backends.base import ChatRequest, ChatResponse
from airloom.backends.scripted import ScriptedBackend
from airloom.checks import checks_for
from airloom.config_load import load_config_text
from airloom.engine.runner import Engine
from airloom.export.writers import export_run, export_store
from airloom.formats.records import Record
from airloom.store.database import Store

SCRIPT = Path(__file__).resolve().parents[1] / "support" / "scripts" / "c.yaml"

TARGETS = {
    "character": 6,
    "rp": 2,
    "awareness": 4,
    "stylized_response": 3,
    "gtkm": 2,
    "inline_actions": 2,
    "introspection": 3,
}

SECTIONS = {
    "character": {"count": 6, "batch_size": 3},
    "rp": {
        "count": 2,
        "turn_count": 6,
        "api_params": {"temperature": 0.9, "presence_penalty": 1.3, "frequency_penalty": 1.3},
    },
    "awareness": {"count": 4, "batch_size": 2},
    "stylized_response": {"count": 3, "batch_size": 2, "categories": ["awareness"]},
    "gtkm": {"count": 2, "question_count": 4},
    "inline_actions": {"count": 2, "exchanges": 2},
    "introspection": {"count": 3},
}


class RecordingBackend(ScriptedBackend):
    """The scripted teacher, keeping every request in arrival order."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[ChatRequest] = []
        self._lock = threading.Lock()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        with self._lock:
            self.requests.append(request)
        return await super().complete(request)


def recording_backend() -> RecordingBackend:
    plain = ScriptedBackend.from_file(SCRIPT)
    return RecordingBackend(plain.rules, name=plain.name)


#: The scripted teacher fills fixed templates with a few random words, so its sessions
#: are near-duplicates by design; these categories get a stricter dedup cut-off here.
TEMPLATE_SESSIONS = ("rp", "gtkm", "inline_actions", "introspection")


def make_config(tmp_path: Path, url: str, sections: dict, **extra) -> object:
    (tmp_path / "topics.txt").write_text("\n".join(f"topic {i}" for i in range(50)))
    sections = {
        name: {**section, "similarity_threshold": 0.995} if name in TEMPLATE_SESSIONS else section
        for name, section in sections.items()
    }
    data = {
        "model": "teacher-1",
        "base_url": url,
        "embedding_model": "hashing",
        "seed": 7,
        "retry": {"max_attempts": 2, "backoff_initial": 0.01, "backoff_max": 0.1, "timeout": 5},
        "concurrency": {"max_requests": 8},
        "instructors": sections,
        **extra,
    }
    return load_config_text(yaml.safe_dump(data), source="test.yaml")


def run(config, tmp_path: Path):
    engine = Engine(config, base_dir=tmp_path)
    stats = asyncio.run(engine.run())
    export_run(config, tmp_path)  # what `airloom generate` writes after the run
    return stats


def stored(tmp_path: Path) -> tuple[list[Record], dict[str, int]]:
    with Store.open(tmp_path / "instructions.airloom.db", create=False) as store:
        return list(store.iter_records()), store.counts()


def by_category(records: list[Record]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for record in records:
        out.setdefault(record.category, []).append(record)
    return out


def test_all_character_categories_in_one_run(openai_server, tmp_path):
    backend = recording_backend()
    server = openai_server(backend=backend)
    stats = run(make_config(tmp_path, server.url, SECTIONS), tmp_path)
    assert stats.status == "completed"
    records, counts = stored(tmp_path)
    assert counts == TARGETS
    assert {n: c.state for n, c in stats.categories.items() if n in TARGETS} == dict.fromkeys(
        TARGETS, "done"
    )
    rejects = {name: stats.categories[name].rejects for name in TARGETS}
    assert rejects["character"]["bad_card"] >= 1  # the malformed card reply
    assert rejects["rp"]["empty_message"] >= 1  # a reply with only NEXT: rerolled
    assert rejects["inline_actions"]["invalid_action"] >= 1
    assert rejects["inline_actions"]["bad_scene"] >= 1
    assert rejects["stylized_response"]["skipped"] >= 1
    assert rejects["awareness"]["broke_character"] >= 1
    assert rejects["introspection"]["unparseable"] >= 1
    assert all("error" not in r for r in rejects.values()), rejects

    cats = by_category(records)
    # every stored record passes the checks registered for its category (curation reruns them)
    for category, rows in cats.items():
        for row in rows:
            for check in checks_for(category):
                assert check(row).ok, (category, check(row).reason)

    cards = cats["character"]
    names = [r.meta["card"]["name"] for r in cards]
    assert len(names) == len(set(names)) == 6
    for category in ("rp", "gtkm", "inline_actions", "introspection"):
        for row in cats[category]:
            assert row.skip_prompt_formatting and row.system and row.conversation
            assert row.conversation[-1].role == "assistant"
    for row in cats["rp"]:
        assert set(row.meta["participants"]) <= set(names)
        assert row.instruction.startswith("This is a chat between")
    awareness = cats["awareness"]
    assert len(awareness) == 8 and len({r.unit for r in awareness}) == 4  # 2 rows, 1 unit
    assert {r.meta["variant"] for r in awareness} >= {"plain"}
    sources = {r.id for r in awareness}
    for row in cats["stylized_response"]:
        assert row.meta["source_id"] in sources and row.system.startswith("You are ")
    for row in cats["inline_actions"]:
        assert "<|begin_func|>" in "".join(t.content for t in row.conversation)
        assert '"functions"' in row.system
    assert {r.meta["kind"] for r in cats["introspection"]} <= {"character", "setting", "earlier"}

    # exports: cards stay out; sessions are pre-formatted rows / whole conversations
    exported = [
        json.loads(line) for line in (tmp_path / "instructions.jsonl").read_text().splitlines()
    ]
    assert "character" not in {row["category"] for row in exported}
    assert len(exported) == len(records) - 6
    for row in exported:
        if row["category"] in ("rp", "gtkm", "inline_actions", "introspection"):
            assert row["skip_prompt_formatting"] is True
    with Store.open(tmp_path / "instructions.airloom.db", create=False) as store:
        written = export_store(store, tmp_path / "share.jsonl", "sharegpt")
    share = [json.loads(line) for line in (tmp_path / "share.jsonl").read_text().splitlines()]
    assert written == len(share) == len(exported)
    for item in share:
        roles = [t["from"] for t in item["conversations"]]
        body = roles[1:] if roles[0] == "system" else roles
        assert body == ["human", "gpt"] * (len(body) // 2), item["category"]

    requests = backend.requests

    def kind(request: ChatRequest) -> str:
        text = "\n".join(m.content for m in request.messages)
        for phrase, name in [
            ("new character descriptions", "character"),
            ("Invent a unique setting", "rp"),
            ("You open the chat as", "rp"),
            ("write your next message as", "rp"),
            ("single word SKIP", "stylized_response"),
            ("nuanced questions", "awareness"),
        ]:
            if phrase in text:
                return name
        return "other"

    kinds = [kind(r) for r in requests]
    # the engine orders dependencies: cards first, the stylized sources before it
    last_card = max(i for i, k in enumerate(kinds) if k == "character")
    assert all(i > last_card for i, k in enumerate(kinds) if k not in ("character", "other"))
    last_source = max(i for i, k in enumerate(kinds) if k == "awareness")
    assert min(i for i, k in enumerate(kinds) if k == "stylized_response") > last_source
    # rp's api_params reach the setting and opening calls too (the original dropped them)
    rp_calls = [r for r, k in zip(requests, kinds, strict=True) if k == "rp"]
    assert rp_calls and all(
        r.params.get("temperature") == 0.9 and r.params.get("presence_penalty") == 1.3
        for r in rp_calls
    )
    setting_calls = [r for r in rp_calls if "Invent a unique setting" in r.messages[-1].content]
    assert len(setting_calls) >= 2


def test_stylized_response_ends_cleanly_when_sources_run_out(openai_server, tmp_path):
    server = openai_server(backend=ScriptedBackend.from_file(SCRIPT))
    sections = {
        "character": {"count": 3, "batch_size": 3},
        "awareness": {"count": 2, "batch_size": 2},
        "stylized_response": {"count": 40, "batch_size": 2, "categories": ["awareness"]},
    }
    stats = run(make_config(tmp_path, server.url, sections), tmp_path)
    assert stats.status == "completed"
    stylized = stats.categories["stylized_response"]
    assert stylized.state == "exhausted"
    assert stylized.rejects["source_exhausted"] >= 1
    records, counts = stored(tmp_path)
    pool = counts["awareness"] * 2  # two rows per awareness unit
    assert 0 < counts["stylized_response"] <= pool
    used = [r.meta["source_id"] for r in records if r.category == "stylized_response"]
    assert len(used) == len(set(used))  # no source answered twice
    assert stylized.rounds <= pool // 2 + 10  # no spinning


@pytest.mark.parametrize("stall_rounds", [1, 5])
def test_chat_categories_without_cards_end_at_once(openai_server, tmp_path, stall_rounds):
    backend = recording_backend()
    server = openai_server(backend=backend)
    sections = {"rp": {"count": 3}, "gtkm": {"count": 2}, "introspection": {"count": 1}}
    config = make_config(tmp_path, server.url, sections, stall_rounds=stall_rounds)
    stats = run(config, tmp_path)
    assert stats.status == "completed"
    for name in sections:
        assert stats.categories[name].state == "exhausted"
        assert stats.categories[name].rejects["no_cards"] >= 1
    assert backend.requests == []


def test_budget_stop_then_resume_counts_sessions_exactly(openai_server, tmp_path):
    server = openai_server(backend=ScriptedBackend.from_file(SCRIPT))
    targets = {
        "character": 4,
        "rp": 3,
        "gtkm": 3,
        "awareness": 3,
        "inline_actions": 2,
        "introspection": 2,
    }
    sections = {
        "character": {"count": 4, "batch_size": 2},
        "rp": {"count": 3, "turn_count": 6},
        "gtkm": {"count": 3, "question_count": 4},
        "awareness": {"count": 3, "batch_size": 1},
        "inline_actions": {"count": 2, "exchanges": 2},
        "introspection": {"count": 2},
    }
    first = run(make_config(tmp_path, server.url, sections, budget={"max_requests": 40}), tmp_path)
    assert first.status == "budget"
    _, partial = stored(tmp_path)
    assert all(partial.get(name, 0) <= target for name, target in targets.items())
    assert sum(partial.values()) < sum(targets.values())
    second = run(make_config(tmp_path, server.url, sections, append=True), tmp_path)
    assert second.status == "completed"
    records, counts = stored(tmp_path)
    assert counts == targets
    units = Counter((r.category, r.unit) for r in records)
    assert all(n == 1 for (category, _), n in units.items() if category != "awareness")
    assert all(n == 2 for (category, _), n in units.items() if category == "awareness")
    assert len({r.id for r in records}) == len(records)
