"""The self-distillation example: its configs load, its generate step composes closed-context
records that verify keeps and the eval's scorer accepts, and its canonicalise step rewrites
plans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from airloom.config_load import load_config
from airloom.evaluate.scorers import says_unknown
from airloom.formats.closed_context import check_citations, parse_closed_context
from airloom.instructors.contextual_compose import SOURCE_REQUESTS
from airloom.instructors.settings.contextual import ContextualConfig
from airloom.train.config import load_train_config
from tests.support.cli import run_airloom

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "self-distill"


def test_example_configs_load() -> None:
    config = load_config(EXAMPLE / "generate.yaml")
    assert set(config.instructors) == {"plan", "agent", "contextual"}
    contextual = config.instructors["contextual"]
    assert isinstance(contextual, ContextualConfig) and contextual.mode == "compose"
    train = load_train_config(EXAMPLE / "train.yaml")
    assert train.template == "chatml" and train.method == "lora"


def test_canonicalise_rewrites_plans_and_drops_unusable_ones(tmp_path: Path) -> None:
    records = [
        {"category": "plan", "instruction": "q", "response": "#E1 = Google[x]\nFinal answer: #E1"},
        {"category": "plan", "instruction": "q", "response": "I would search the web."},
        {"category": "agent", "instruction": "q", "response": '{"function": "f", "params": {}}'},
    ]
    source = tmp_path / "kept.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    target = tmp_path / "train.jsonl"
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "canonicalise.py"), str(source), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    kept = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["category"] for r in kept] == ["plan", "agent"]
    assert kept[0]["response"] == ":evidence0: = Google[x]\nAnswer: :evidence0:"
    assert kept[1] == records[2]
    assert "1  plan rewritten canonically" in result.stdout
    assert "1  dropped: no plan to render canonically" in result.stdout


def test_generate_step_composes_records_that_verify_keeps(openai_server, tmp_path: Path) -> None:
    server = openai_server()
    sets = {
        "base_url": server.url,
        "model": "teacher",
        "embedding_model": "hashing",
        "output_path": str(tmp_path / "generated.jsonl"),
        "topics_path": str(tmp_path / "topics.txt"),
        "instructors.plan.count": "0",
        "instructors.agent.count": "0",
        "instructors.contextual.count": "8",
    }
    options = [part for key, value in sets.items() for part in ("--set", f"{key}={value}")]
    made = run_airloom(
        "generate", "--config", str(EXAMPLE / "generate.yaml"), *options, "--quiet", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    kept = tmp_path / "kept.jsonl"
    verified = run_airloom(
        "verify", str(tmp_path / "generated.airloom.db"), "--out", str(kept), "-q", cwd=tmp_path
    )
    assert verified.returncode == 0, verified.stderr
    records = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 8 and {r["category"] for r in records} == {"contextual"}
    for record in records:
        parsed = parse_closed_context(record["instruction"], strict=True)
        assert parsed.blocks and parsed.instruction.strip()
        assert check_citations(record["response"], record["instruction"]) == []
        asked = parsed.instruction.endswith(SOURCE_REQUESTS)
        cites = "\n\nReference(s):\n" in record["response"]
        assert cites == (asked and not says_unknown(record["response"]))
