"""judge, cull, verify, import and export on small stores made by the engine."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
import yaml
from click.testing import CliRunner

from airloom.backends.scripted import ScriptedBackend
from airloom.cli.main import cli
from airloom.curate.importer import import_datasets
from airloom.curate.jobs import CullOptions, IncompleteJudging, cull_store, judge_store
from airloom.curate.sources import read_dataset, read_store
from airloom.errors import ConfigError
from airloom.store.database import Store
from tests.support.curation import (
    SCRIPT,
    counting_judge,
    engine_store,
    judge_config,
    read_jsonl,
    session,
    write_jsonl,
)
from tests.support.openai_server import Fault


def expected_status(record):
    """What the scripted judge says about a demo record (see scripts/curate.yaml)."""
    response = record.response
    if response.startswith(("Certainly.", "def main", "It was restored")):
        return "good"  # the last: demo contextual answers, citing their source
    if response.startswith(("Here is one way", "BEGININPUT")):
        return "bad"
    assert response.startswith("A short answer follows"), response
    return "error"


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    return engine_store(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def store(demo_store, tmp_path):
    copy = tmp_path / "store.db"
    with sqlite3.connect(demo_store) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


# ---- judge ---------------------------------------------------------------------------------
def test_judge_gives_every_record_its_verdict_and_a_rerun_judges_nothing(store):
    records = read_store(store).records
    backend = counting_judge()
    outcome = asyncio.run(judge_store(session(store, backend=backend)))
    assert backend.calls == len(records) == 21
    assert outcome.judged == 21 and outcome.cached == 0
    for record in records:
        assert outcome.verdicts[record.content_hash].status == expected_status(record), record
    errors = [v for v in outcome.verdicts.values() if v.status == "error"]
    assert errors and all(v.reason.startswith("the judge's reply is neither") for v in errors)
    assert all(v.raw == "The response is GOOD." for v in errors)  # kept for diagnosis
    again = counting_judge()
    rerun = asyncio.run(judge_store(session(store, backend=again)))
    assert again.calls == 0 and rerun.judged == 0 and rerun.cached == 21
    assert {k: v.status for k, v in rerun.verdicts.items()} == {
        k: v.status for k, v in outcome.verdicts.items()
    }
    with Store.open(store, create=False) as opened:
        assert opened.totals().requests >= 21  # every judge call is in the request cache


def test_retry_errors_asks_again_only_for_errors(store):
    asyncio.run(judge_store(session(store)))
    backend = counting_judge()
    outcome = asyncio.run(judge_store(session(store, backend=backend), retry_errors=True))
    errors = sum(expected_status(r) == "error" for r in read_store(store).records)
    assert backend.calls == errors > 0
    assert sum(v.status == "error" for v in outcome.verdicts.values()) == errors


def test_a_changed_threshold_rejudges_from_the_request_cache_for_free(store):
    asyncio.run(judge_store(session(store)))
    backend = counting_judge()
    config = judge_config({"scoring": {"threshold": 90}})
    outcome = asyncio.run(judge_store(session(store, config, backend=backend)))
    assert backend.calls == 0 and outcome.judged == 21  # new verdicts, no new calls
    coding = [v for v in outcome.verdicts.values() if v.score == 88.0]
    assert coding and all(v.status == "bad" for v in coding)


def test_the_budget_stops_judging_and_a_rerun_finishes(store):
    limited = judge_config({"budget": {"max_requests": 5}})
    first = asyncio.run(judge_store(session(store, limited)))
    assert first.stopped and len(first.verdicts) == 5
    backend = counting_judge()
    rest = asyncio.run(judge_store(session(store, backend=backend)))
    assert backend.calls == 16 and len(rest.verdicts) == 21


def test_judge_over_http_retries_faults(store, openai_server):
    server = openai_server(
        backend=ScriptedBackend.from_file(SCRIPT),
        faults=[Fault("429", times=2, retry_after=0.01), Fault("500", times=1)],
    )
    config = judge_config({"backend": "openai", "base_url": server.url, "model": "judge-1"})
    current = session(store, config)
    outcome = asyncio.run(judge_store(current))
    assert len(outcome.verdicts) == 21 and outcome.failed_calls == 0
    assert current.stats.spending.retries == 3
    assert server.state.models_seen == {"judge-1"}


def test_a_reply_cut_at_max_tokens_is_an_error_that_says_so(tmp_path):
    rows = [{"instruction": "Explain tides.", "response": "[truncated] The moon."}]
    store = tmp_path / "cut.db"
    import_datasets([write_jsonl(tmp_path / "cut.jsonl", rows)], store, embedding_model="hashing")
    (verdict,) = asyncio.run(judge_store(session(store))).verdicts.values()
    assert verdict.status == "error" and "cut at max_tokens" in verdict.reason
    assert verdict.raw == '{"score": 90, "reason": "The answer is cl'


def test_judge_command_prints_counts(store, tmp_path):
    config = tmp_path / "judge.yaml"
    config.write_text(yaml.safe_dump({"backend": "scripted", "script_path": str(SCRIPT),
                                      "scoring": {"threshold": 80}}))  # fmt: skip
    result = CliRunner().invoke(cli, ["judge", str(store), "--config", str(config), "-q"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    statuses = [expected_status(r) for r in read_store(store).records]
    assert (counts["good"], counts["bad"], counts["errors"]) == (
        statuses.count("good"),
        statuses.count("bad"),
        statuses.count("error"),
    )


# ---- cull ----------------------------------------------------------------------------------
PLANTED = [
    ("Describe the old lighthouse at Port Elling and its keeper.", "[score 70] A tall tower."),
    ("Describe the old lighthouse at Port Elling and its keepers.", "[score 95] Short and right."),
    ("Describe the old lighthouse of Port Elling and its keeper.",
     "[score 85] " + "A very long, padded answer that goes on and on. " * 20),
    ("Name three uses of copper in electrical wiring.", "[score 60] Wires."),
    ("Name three uses of copper in household electrical wiring.", "[score 65] Cables."),
    ("Explain how tides work.", "[verdict GOOD] The moon pulls the sea."),
    ("Explain why the sky is blue.", "[verdict NOT GOOD] Scattering."),
    ("describe the OLD lighthouse at port elling and its keeper.", "[score 99] Exact duplicate."),
]  # fmt: skip


@pytest.fixture
def planted_store(tmp_path):
    rows = [{"instruction": i, "response": r, "category": "general"} for i, r in PLANTED]
    source = write_jsonl(tmp_path / "planted.jsonl", rows)
    store = tmp_path / "planted.db"
    import_datasets([source], store, embedding_model="hashing")
    return store


def test_cull_keeps_the_best_judged_of_each_cluster_in_input_order(planted_store, tmp_path):
    out = tmp_path / "culled.jsonl"
    result = asyncio.run(cull_store(session(planted_store), CullOptions(out=out, threshold=0.75)))
    kept = [row["response"][:12] for row in read_jsonl(out)]
    assert kept == ["[verdict GOO", "[score 99] E"]  # input order, not cluster order
    reasons = [d.reason for d in result.decisions]
    assert reasons == [
        "judged bad (score 70)",  # below the threshold of 80: never kept
        "near-duplicate of #7 (judged better)",
        "near-duplicate of #7 (judged better)",
        "judged bad (score 60)",
        "judged bad (score 65)",
        "kept",
        "judge error: the judge's reply is neither GOOD, BAD nor a JSON score",
        "kept",
    ]
    assert len({result.decisions[i].cluster for i in (0, 1, 2, 7)}) == 1
    assert result.summary == {"near-duplicate": 2, "judged bad": 3, "kept": 2, "judge error": 1}
    decisions = read_jsonl(tmp_path / "culled.jsonl.decisions.jsonl")
    assert [d["kept"] for d in decisions] == [False] * 5 + [True, False, True]
    assert decisions[1]["duplicate_of"] == decisions[7]["id"]


def test_cull_without_the_exact_duplicate_keeps_the_best_not_the_longest(tmp_path):
    rows = [{"instruction": i, "response": r, "category": "general"} for i, r in PLANTED[:3]]
    store = tmp_path / "three.db"
    import_datasets([write_jsonl(tmp_path / "three.jsonl", rows)], store, embedding_model="hashing")
    out = tmp_path / "best.jsonl"
    asyncio.run(cull_store(session(store), CullOptions(out=out, threshold=0.75)))
    assert [row["response"] for row in read_jsonl(out)] == ["[score 95] Short and right."]


def test_cull_refuses_to_write_when_judging_stopped(planted_store, tmp_path):
    out = tmp_path / "culled.jsonl"
    limited = judge_config({"budget": {"max_requests": 2}})
    with pytest.raises(IncompleteJudging, match="have no verdict yet"):
        asyncio.run(cull_store(session(planted_store, limited), CullOptions(out=out)))
    assert not out.exists()


def test_cull_command_on_an_engine_store_with_pass_through(store, tmp_path):
    config = tmp_path / "judge.yaml"
    config.write_text(yaml.safe_dump({"backend": "scripted", "script_path": str(SCRIPT),
                                      "scoring": {"threshold": 80}}))  # fmt: skip
    out = tmp_path / "out.sharegpt.jsonl"
    result = CliRunner().invoke(
        cli,
        ["cull", str(store), "-c", str(config), "--out", str(out), "--pass-through",
         "contextual", "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    records = read_store(store).records
    expected = [r.id for r in records
                if r.category == "contextual" or expected_status(r) == "good"]  # fmt: skip
    assert [row["id"] for row in rows] == expected  # nothing near-duplicate, input order


# ---- verify --------------------------------------------------------------------------------
CODE_ROWS = [
    {"category": "coding", "instruction": "Write a Python function. PLAINFORMAT",
     "response": "def double(x):\n    return 2 * x\n\nassert double(4) == 8"},
    {"category": "coding", "instruction": "Write a Python function. PLAINFORMAT",
     "response": "def double(x):\n    return 3 * x\n\nassert double(4) == 8"},
    {"category": "coding", "instruction": "Write a Python loop. PLAINFORMAT",
     "response": "while True:\n    pass"},
    {"category": "inline_actions", "instruction": "Pick up the lamp.",
     "response": 'She reaches out. <|begin_func|>{"name": "pick_up", "parameters": '
                 '{"object": "lamp"}}<|end_func|>'},
    {"category": "inline_actions", "instruction": "Pick up the lamp.",
     "response": "She reaches out. <|begin_func|>{pick up the lamp}<|end_func|>"},
    {"category": "general", "instruction": "Say hi.", "response": "Hi."},
]  # fmt: skip


def test_verify_a_file_drops_failures_or_keeps_them_flagged(tmp_path):
    source = write_jsonl(tmp_path / "data.jsonl", CODE_ROWS)
    report = tmp_path / "report.jsonl"
    out = tmp_path / "verified.jsonl"
    args = ["verify", str(source), "--report", str(report), "--out", str(out), "--cpu", "1",
            "--wall", "5", "-q"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert (counts["pass"], counts["fail"], counts["skip"]) == (2, 3, 1)
    verdicts = read_jsonl(report)
    assert [v["status"] for v in verdicts] == ["pass", "fail", "fail", "pass", "fail", "skip"]
    assert "AssertionError" in verdicts[1]["reason"]
    assert verdicts[2]["reason"] == "python: CPU time limit of 1 s exceeded"
    assert verdicts[4]["reason"].startswith("turn 0: action is not a JSON object")
    assert [r["instruction"] for r in read_jsonl(out)] == [
        CODE_ROWS[0]["instruction"], CODE_ROWS[3]["instruction"], CODE_ROWS[5]["instruction"]
    ]  # fmt: skip
    result = CliRunner().invoke(cli, [*args, "--keep-failed"])
    rows = read_jsonl(out)
    assert len(rows) == 6 and rows[1]["verification"]["status"] == "fail"
    assert "verification" not in rows[0]


def test_verify_a_store_caches_verdicts_for_the_report(store):
    first = CliRunner().invoke(cli, ["verify", str(store), "-q", "--cpu", "2"])
    assert first.exit_code == 0, first.output
    counts = json.loads(first.stdout.strip().splitlines()[-1])
    assert counts["cached"] == 0 and sum(counts[k] for k in ("pass", "fail", "skip")) == 21
    rerun = CliRunner().invoke(cli, ["verify", str(store), "-q", "--cpu", "2"])
    second = json.loads(rerun.stdout.splitlines()[-1])
    assert second["cached"] == 21 and second["pass"] == counts["pass"]
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT COUNT(*) FROM curate_verdicts WHERE kind = 'verify'").fetchone()
    assert rows[0] == 21


# ---- import and export ---------------------------------------------------------------------
def test_import_command_reads_every_shape_once(store, tmp_path):
    runner = CliRunner()
    jsonl, sharegpt = tmp_path / "a.jsonl", tmp_path / "b.sharegpt.jsonl"
    assert runner.invoke(cli, ["export", "--store", str(store), "--out", str(jsonl)]).exit_code == 0
    assert runner.invoke(cli, ["export", "--store", str(store), "--format", "sharegpt",
                               "--out", str(sharegpt)]).exit_code == 0  # fmt: skip
    target = tmp_path / "imported.db"
    result = runner.invoke(cli, ["import", str(jsonl), str(sharegpt), "--store", str(target),
                                 "--embedding-model", "hashing"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["imported"] == 21
    back = read_dataset(target).records
    original = read_store(store).records
    assert sorted(r.id for r in back) == sorted(r.id for r in original)


def test_export_formats_from_the_command(store, tmp_path):
    runner = CliRunner()
    text = tmp_path / "train.jsonl"
    result = runner.invoke(cli, ["export", "--store", str(store), "--format", "text",
                                 "--template", "airoboros-2.2", "--out", str(text)])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_jsonl(text)
    assert len(rows) == 21 and all(r["text"].startswith("A chat.\nUSER: ") for r in rows)
    pushed = runner.invoke(cli, ["export", "--store", str(store), "--push-to-hub", "me/data"],
                           env={"HF_TOKEN": "", "HF_HOME": str(tmp_path)})  # fmt: skip
    assert isinstance(pushed.exception, ConfigError)
    assert "no Hugging Face credentials" in pushed.exception.message


def test_verify_shows_a_table_and_no_raw_json(tmp_path):
    source = write_jsonl(tmp_path / "data.jsonl", CODE_ROWS)
    result = CliRunner().invoke(cli, ["verify", str(source), "--cpu", "1", "--wall", "5"])
    assert result.exit_code == 0, result.output
    assert "verification" in result.output and "total" in result.output
    assert "{" not in result.stdout and '"pass"' not in result.output
    assert "0 verdicts from the cache" in result.output
