"""End to end: records airloom generated → LoRA on the embedded 0.5B → `ask --adapter`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_airloom

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CONFIG = """\
seed: 3
backend: scripted
script_path: demo
instructors:
  general: {count: 8, batch_size: 4}
"""


def test_lora_on_the_embedded_model_then_ask_with_the_adapter(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "topics.txt").write_text("volcanoes\nchess openings\nlighthouses\n")
    generated = run_airloom("generate", "-c", "config.yaml", "--quiet", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr[-3000:]
    store = tmp_path / "instructions.airloom.db"
    assert store.is_file()

    trained = run_airloom(
        "train", "--data", str(store),
        "--set", "output_dir=adapter", "--set", "max_steps=3", "--set", "batch_size=2",
        "--set", "max_length=256", "--set", "eval_fraction=0", "--set", "lora.r=4",
        "--set", "template=airoboros-2.2",
        cwd=tmp_path, timeout=1500,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "airloom train: adapter" in trained.stderr
    summary = json.loads((tmp_path / "adapter" / "training_summary.json").read_text())
    assert summary["steps"] == 3 and summary["data"]["used"] == 8
    assert summary["base_model"] == "embedded"
    card = (tmp_path / "adapter" / "README.md").read_text()
    assert "instructions.airloom.db" in card and summary["data"]["data_sha256"] in card

    answered = run_airloom(
        "ask", "Name one volcano.", "--adapter", "adapter", "--max-tokens", "12",
        "--temperature", "0", "--show-prompt",
        cwd=tmp_path, timeout=1500,
    )  # fmt: skip
    assert answered.returncode == 0, answered.stderr[-3000:]
    assert answered.stdout.strip()
    # the adapter's prompt format is the one used
    assert "A chat.\nUSER: Name one volcano.\nASSISTANT: " in answered.stderr
