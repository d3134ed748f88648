"""The engine against a real HTTP test server: replies, faults, budgets, cache, stops."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from airloom.backends.scripted import ScriptedBackend
from airloom.config_load import load_config_text
from airloom.engine.runner import Engine
from airloom.errors import FatalBackendError
from airloom.export.writers import export_run
from airloom.store.database import Store
from tests.support.openai_server import Fault

BASE = {
    "model": "teacher-1",
    "embedding_model": "hashing",
    "seed": 11,
    "retry": {"max_attempts": 4, "backoff_initial": 0.01, "backoff_max": 0.2, "timeout": 5},
    "concurrency": {"max_requests": 8},
}


def _merge(base, extra):
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def make_config(tmp_path, url, extra="", topics=True):
    if topics:
        (tmp_path / "topics.txt").write_text("\n".join(f"topic {i}" for i in range(50)))
    data = _merge({**BASE, "base_url": url}, yaml.safe_load(extra) or {})
    return load_config_text(yaml.safe_dump(data), source="test.yaml")


def run(config, tmp_path, **kwargs):
    engine = Engine(config, base_dir=tmp_path, **kwargs)
    stats = asyncio.run(engine.run())
    export_run(config, tmp_path)  # what `airloom generate` writes after the run
    return engine, stats


def stored(tmp_path, name="instructions.airloom.db"):
    with Store.open(tmp_path / name, create=False) as store:
        return list(store.iter_records()), store.counts(), store.totals()


def test_three_categories_reach_exact_targets(openai_server, tmp_path):
    server = openai_server()
    config = make_config(
        tmp_path,
        server.url,
        topics=False,
        extra="""
instructors:
  general: {count: 12, batch_size: 4}
  coding: {count: 6, batch_size: 3, plain_ratio: 0.5}
  contextual: {count: 4, batch_size: 2}
""",
    )
    _, stats = run(config, tmp_path)
    records, counts, totals = stored(tmp_path)
    assert stats.status == "completed"
    assert counts == {"general": 12, "coding": 6, "contextual": 4}
    assert totals.requests == server.state.completed
    assert all(
        r.provenance.model == "teacher-1" and r.provenance.endpoint == server.url for r in records
    )
    assert all(
        r.provenance.seed == 11 and r.provenance.template_hash
        for r in records
        if r.category != "contextual"
    )
    plain = [r for r in records if r.category == "coding" and r.instruction.endswith("PLAINFORMAT")]
    assert all("```" not in r.response for r in plain)
    contextual = [r for r in records if r.category == "contextual"]
    assert all(
        r.instruction.startswith("BEGININPUT") and r.instruction.endswith("ENDINSTRUCTION")
        for r in contextual
    )
    lines = (tmp_path / "instructions.jsonl").read_text().splitlines()
    assert len(lines) == 22
    assert {json.loads(line)["category"] for line in lines} == {"general", "coding", "contextual"}
    assert (tmp_path / "topics.txt").exists()


def test_transient_faults_are_retried(openai_server, tmp_path):
    server = openai_server(
        faults=[
            Fault("429", times=3, retry_after=0.05),
            Fault("500", times=2),
            Fault("truncated", times=1),
            Fault("empty", times=1),
        ]
    )
    config = make_config(
        tmp_path,
        server.url,
        "retry: {max_attempts: 10}\ninstructors:\n  general: {count: 5, batch_size: 5}\n",
    )
    _, stats = run(config, tmp_path)
    assert stats.status == "completed"
    assert stats.spending.rate_limited == 3
    assert stats.spending.retries == 7
    assert server.state.faults_served == {"429": 3, "500": 2, "truncated": 1, "empty": 1}
    assert stored(tmp_path)[1] == {"general": 5}


def test_timeout_is_retried(openai_server, tmp_path):
    server = openai_server(faults=[Fault("timeout", times=1)])
    config = make_config(
        tmp_path,
        server.url,
        "retry: {timeout: 0.5, max_attempts: 3, backoff_initial: 0.01}\n"
        "instructors:\n  general: {count: 3, batch_size: 3}\n",
    )
    _, stats = run(config, tmp_path)
    assert stats.status == "completed" and stats.spending.retries >= 1


@pytest.mark.parametrize("kind", ["401", "404"])
def test_bad_key_or_model_stops_at_once(openai_server, tmp_path, kind):
    server = openai_server(faults=[Fault(kind, times=100)])
    config = make_config(tmp_path, server.url, "instructors:\n  general: {count: 5}\n")
    with pytest.raises(FatalBackendError) as info:
        run(config, tmp_path)
    assert server.state.requests <= 8  # no retries of a fatal error, only what was in flight
    assert ("key" in str(info.value)) if kind == "401" else ("model" in str(info.value))


def test_api_key_from_env_and_headers_sent(openai_server, tmp_path, monkeypatch):
    server = openai_server(api_key="sekret")
    monkeypatch.setenv("MY_KEY", "sekret")
    config = make_config(
        tmp_path,
        server.url,
        "api_key_env: MY_KEY\nheaders: {X-Team: data}\n"
        "instructors:\n  general: {count: 2, batch_size: 2, model: teacher-2}\n",
    )
    _, stats = run(config, tmp_path)
    assert stats.status == "completed"
    assert server.state.models_seen == {"teacher-2"}
    assert all(h.get("x-team") == "data" for h in server.state.headers_seen)


def test_context_overflow_skips_the_item(openai_server, tmp_path):
    server = openai_server(faults=[Fault("context", times=2, match="^(?!I would like)")])
    config = make_config(
        tmp_path, server.url, "instructors:\n  general: {count: 6, batch_size: 3}\n"
    )
    _, stats = run(config, tmp_path)
    assert stats.categories["general"].rejects["too_long"] == 2
    assert stored(tmp_path)[1] == {"general": 6}


def test_garbage_teacher_stalls_instead_of_looping(openai_server, tmp_path):
    backend = ScriptedBackend.from_rules(
        [{"match": ".*", "reply": "I have no tasks for you today."}]
    )
    server = openai_server(backend=backend)
    config = make_config(tmp_path, server.url, "instructors:\n  general: {count: 5}\n")
    _, stats = run(config, tmp_path)
    general = stats.categories["general"]
    assert general.state == "stalled"
    assert general.rejects["unparseable"] >= 30
    assert general.accepted == 0


def test_budget_stops_cleanly_and_resume_pays_nothing_twice(openai_server, tmp_path):
    server = openai_server()
    config = make_config(
        tmp_path,
        server.url,
        "budget: {max_requests: 27}\ninstructors:\n  general: {count: 40, batch_size: 5}\n",
    )
    _, stats = run(config, tmp_path)
    assert stats.status == "budget"
    _, counts, totals = stored(tmp_path)
    assert totals.requests <= 27
    assert 0 < counts["general"] < 40
    first_run_calls = server.state.completed
    config = make_config(
        tmp_path, server.url, "instructors:\n  general: {count: 40, batch_size: 5}\n"
    )
    _, stats = run(config, tmp_path)
    records, counts, totals = stored(tmp_path)
    assert stats.status == "completed" and counts == {"general": 40}
    assert len({r.instruction for r in records}) == 40
    # every paid call is in the cache exactly once: nothing was paid twice
    assert totals.requests == server.state.completed
    # the round cut short by the budget is replayed from the cache
    assert stats.spending.cache_hits >= 1
    assert first_run_calls <= 27


def test_interrupt_keeps_accepted_records(openai_server, tmp_path):
    server = openai_server(latency=0.05)
    config = make_config(
        tmp_path, server.url, "instructors:\n  general: {count: 200, batch_size: 5}\n"
    )
    engine = Engine(config, base_dir=tmp_path)

    async def main():
        task = asyncio.create_task(engine.run())
        while (
            engine.stats.categories.get("general") is None
            or engine.stats.categories["general"].accepted < 10
        ):
            await asyncio.sleep(0.02)
        engine.request_stop("interrupted")
        return await task

    stats = asyncio.run(main())
    assert stats.status == "interrupted"
    _, counts, _ = stored(tmp_path)
    assert counts["general"] == stats.categories["general"].accepted >= 10


def test_rate_limit_storm_cuts_concurrency_and_recovers(openai_server, tmp_path):
    server = openai_server(latency=0.01, faults=[Fault("429", times=20, retry_after=0.01)])
    config = make_config(
        tmp_path,
        server.url,
        "retry: {max_attempts: 10, backoff_initial: 0.01}\n"
        "instructors:\n  general: {count: 60, batch_size: 6}\n",
    )
    engine, stats = run(config, tmp_path)
    assert stats.status == "completed"
    assert engine.scheduler.limiter.limit >= 1
    assert stats.spending.rate_limited == 20


def test_unreachable_endpoint_gives_one_clear_error(tmp_path):
    config = make_config(
        tmp_path,
        "http://127.0.0.1:9/v1",
        "retry: {max_attempts: 2, backoff_initial: 0.01, max_consecutive_failures: 3}\n"
        "instructors:\n  general: {count: 3}\n",
    )
    with pytest.raises(FatalBackendError) as info:
        run(config, tmp_path)
    assert "in a row" in str(info.value)


def test_stop_grace_expiry_leaves_no_round_running(openai_server, tmp_path):
    """Calls slower than the grace period are cancelled, not left running past shutdown."""
    server = openai_server(latency=1.5)
    config = make_config(
        tmp_path,
        server.url,
        "concurrency: {max_requests: 4, stop_grace: 0.2}\n"
        "instructors:\n  general: {count: 50, batch_size: 5}\n  joke: {count: 5}\n",
    )
    events: list[tuple[str, dict]] = []

    class Sink:
        def emit(self, event, **fields):
            events.append((event, fields))

    engine = Engine(config, base_dir=tmp_path, events=Sink())

    async def main():
        task = asyncio.create_task(engine.run())
        while server.state.in_flight < 2:
            await asyncio.sleep(0.02)
        engine.request_stop("interrupted")
        stats = await task
        await asyncio.sleep(2.0)  # long enough for an orphaned call to come back
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return stats, leftovers

    stats, leftovers = asyncio.run(main())
    assert stats.status == "interrupted"
    assert leftovers == []
    assert [name for name, _ in events if name == "round_error"] == []
    assert events[-1][0] == "run_finished"


def test_a_task_list_cut_at_max_tokens_keeps_its_whole_tasks(openai_server, tmp_path):
    server = openai_server(faults=[Fault("length", times=1, match=r"TSK")])
    config = make_config(
        tmp_path,
        server.url,
        "concurrency: {max_requests: 1}\ninstructors:\n  general: {count: 4, batch_size: 5}\n",
    )
    _, stats = run(config, tmp_path)
    _, counts, _ = stored(tmp_path)
    assert server.state.faults_served == {"length": 1}
    assert stats.status == "completed" and counts == {"general": 4}
    general = stats.categories["general"]
    assert general.rounds == 1 and general.rejects == {"truncated": 1}
    assert server.state.completed == 1 + 4  # the cut list, then one answer per whole task


def test_refusals_and_avoided_subjects_never_become_records(tmp_path):
    """A refused code answer (filters off for code) and a task on an avoided subject are
    rejected; the clean ones are kept."""
    backend = ScriptedBackend.from_rules(
        [
            {
                "match": "coding tasks",
                "reply": "TSK 1. Write a Python function that reverses a string.\n"
                "TSK 2. Write a Python function that sums a list of numbers.",
            },
            {"match": "reverses a string", "reply": "I’m sorry, I'm not sure what you are asking."},
            {"match": "sums a list", "reply": "def total(xs):\n    return sum(xs)"},
            {
                "match": "diverse tasks",
                "reply": "TSK 1. Explain how climate change affects coral reefs.\n"
                "TSK 2. Name three rivers of Peru.",
            },
            {"match": "rivers", "reply": "The Amazon, the Ucayali and the Marañón."},
            {"match": "coral", "reply": "Warmer seas bleach coral."},
        ]
    )
    config = make_config(
        tmp_path,
        "http://127.0.0.1:9/v1",
        "stall_rounds: 2\ninstructors:\n  coding: {count: 1, batch_size: 2, plain_ratio: 0}\n"
        "  general: {count: 1, batch_size: 2}\n",
    )
    _, stats = run(config, tmp_path, backend=backend)
    records, counts, _ = stored(tmp_path)
    assert counts == {"coding": 1, "general": 1}
    assert {r.instruction for r in records} == {
        "Write a Python function that sums a list of numbers.",
        "Name three rivers of Peru.",
    }
    assert stats.categories["coding"].rejects["filtered"] == 1
    assert stats.categories["general"].rejects["avoided_topic"] == 1
    assert stats.filter_hits["topic_avoidance: climate change"] == 1
