"""End to end: `airloom plan` with the embedded model and the offline corpus search.

The 0.5B model was not trained on reWOO plans; it is few-shot prompted. Either its plan
validates and runs (a trace with an answer), or it ends in a clear validation error with
exit code 1 — never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
ROOT = Path(__file__).resolve().parents[2]


def test_plan_on_the_embedded_model(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lighthouse.md").write_text(
        "# The Lake Orun lighthouse\nThe Lake Orun lighthouse was lit in 1887 by Mara Ellis.\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airloom",
            "plan",
            "Who lit the Lake Orun lighthouse?",
            "--corpus",
            str(corpus),
            "--json",
            "--deadline",
            "600",
            "--set",
            "api_params.max_tokens=300",
            "--set",
            "api_params.temperature=0",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode in (0, 1), result.stderr[-3000:]
    if result.stdout.strip().startswith("{"):
        trace = json.loads(result.stdout)
        assert "steps" in trace and "answer" in trace
    else:
        assert result.returncode == 1
        assert result.stderr.strip(), "a rejected plan must say why"
