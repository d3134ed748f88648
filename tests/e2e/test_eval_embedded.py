"""End to end: `airloom eval` on the embedded model, a handful of cases, few tokens.

The 0.5B model is not expected to pass; what is checked is that every case is asked,
executed where it must be (the code case in the sandbox), scored with a reason, and
written as results JSON.
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


def test_eval_on_the_embedded_model(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [
        sys.executable, "-m", "airloom", "eval", "--split", "dev", "--limit", "1",
        "--kind", "function", "--kind", "context", "--kind", "code",
        "--max-tokens", "64", "--out", "out", "--json",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert [case["id"] for case in data["cases"]] == ["function-01", "context-01", "code-01"]
    for case in data["cases"]:
        assert isinstance(case["passed"], bool) and case["reason"], case
        assert case["answer"].strip(), "the model answered nothing"
        assert 0 < case["completion_tokens"] <= 64
    assert set(data["scores"]["kinds"]) == {"function", "context", "code"}
    saved = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert saved["scores"] == data["scores"]
