"""Ctrl-C while the embedded model is being prepared: a prompt stop, no traceback, and
what was finished (the assembled GGUF file) is kept for the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airloom.weights.files import EMBEDDED_MODEL

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]


def test_ctrl_c_during_conversion_stops_at_once_and_keeps_the_assembled_file(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "AIRLOOM_CACHE": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "airloom", "model", "prepare"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # off a terminal: one line per stage
        lines.append(line)
        if "converting the model" in line:
            break
    else:
        pytest.fail("".join(lines))
    assert lines[0].startswith("model: starting the model runtime")
    assert any("assembling the model file" in line for line in lines)
    time.sleep(1.0)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 5.0
    assert proc.returncode == 130
    assert "Traceback" not in rest and "interrupted" in rest
    assert "run `airloom model prepare` again" in rest
    assembled = tmp_path / "models" / EMBEDDED_MODEL.filename
    assert assembled.stat().st_size == EMBEDDED_MODEL.size
    assert not list((tmp_path / "models").glob(".*.part"))
