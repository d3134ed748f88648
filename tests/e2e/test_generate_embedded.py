"""End to end: `airloom generate` on the embedded model, as a user runs it.

The 0.5B teacher is weak (it often repeats the coding prompt's worked examples and
cannot write the closed-context layout itself), so the test asks for few records and
accepts coding rejects; what it demands is a clean run: general tasks delivered, a
closed-context record composed from the teacher's passage and question (compose mode),
every category either at its target or stalled with its rejects counted, well-formed
records — never a crash or a hang.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airloom.checks.closed_context import check_closed_context
from airloom.formats.closed_context import parse_closed_context
from airloom.formats.records import make_record
from tests.support.cli import run_airloom, start_airloom

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CONFIG = """\
seed: 1
stall_rounds: 4
api_params: {temperature: 0.7, max_tokens: 512}
instructors:
  general: {count: 2, batch_size: 2}
  coding: {count: 2, batch_size: 2}
  contextual: {count: 1, batch_size: 4, mode: compose, api_params: {max_tokens: 200}}
"""


def test_generate_on_the_embedded_model(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "topics.txt").write_text("volcanoes\nchess openings\nlighthouses\nriver deltas\n")
    result = run_airloom("generate", "-c", "config.yaml", "--quiet", cwd=tmp_path, timeout=2400)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "completed"
    categories = summary["categories"]
    assert categories["general"]["accepted"] == 2
    assert categories["contextual"]["accepted"] == 1
    targets = {"general": 2, "coding": 2, "contextual": 1}
    for name, target in targets.items():
        category = categories[name]
        assert category["state"] in ("done", "stalled"), name
        assert category["accepted"] == target or sum(category["rejects"].values()) > 0, name

    con = sqlite3.connect(tmp_path / "instructions.airloom.db")
    rows = con.execute("SELECT category, instruction, response, model FROM records").fetchall()
    con.close()
    assert {model for *_, model in rows} == {"qwen2.5-coder-0.5b-instruct"}
    for category, instruction, response, _ in rows:
        assert instruction.strip() and response.strip()
        if category == "coding" and instruction.endswith("PLAINFORMAT"):
            assert "```" not in response
        if category == "contextual":
            assert parse_closed_context(instruction, strict=True).blocks
            record = make_record(instruction=instruction, response=response)
            assert check_closed_context(record).ok
    exported = (tmp_path / "instructions.jsonl").read_text().splitlines()
    assert len(exported) == len(rows)


def test_ctrl_c_while_the_embedded_model_generates(tmp_path: Path) -> None:
    """The calls in flight get the grace period; a forward pass that cannot be cut short
    does not hold the stop up; the summary says interrupted and how to resume."""
    import signal
    import time

    (tmp_path / "config.yaml").write_text(
        "seed: 1\nembedding_model: hashing\nconcurrency: {stop_grace: 2}\n"
        "instructors:\n  general: {count: 4, batch_size: 2}\n"
    )
    proc = start_airloom("generate", "-c", "config.yaml", cwd=tmp_path)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("model: loading the model:"):  # loaded: generation starts
            break
    time.sleep(3.0)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert time.monotonic() - sent < 2.0 + 6.0, err
    assert proc.returncode == 130, err
    assert "stopping: waiting up to 2 s for" in err and "Traceback" not in err
    assert "interrupted" in err.split("airloom run:")[1]
    assert "run the same command again to resume" in err
    assert (tmp_path / "topics.txt").read_text().splitlines()[0] == "volcanoes"  # shipped list
