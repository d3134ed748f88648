"""The self-distillation example: its configs load, and its canonicalise step rewrites plans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from airloom.config_load import load_config
from airloom.train.config import load_train_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "self-distill"


def test_example_configs_load() -> None:
    config = load_config(EXAMPLE / "generate.yaml")
    assert set(config.instructors) == {"plan", "agent", "contextual", "counterfactual_contextual"}
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
