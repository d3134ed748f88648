"""Run the real ``airloom`` command in a subprocess, with this checkout's code imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def airloom_env(threads: int | None = None) -> dict[str, str]:
    """The environment: this checkout's ``src`` (and the tests package) first on the path.

    ``threads`` caps torch's CPU threads (tiny models only lose to thread contention).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_airloom(
    *args: str, cwd: Path | None = None, timeout: float = 300, threads: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m airloom ARGS`` with captured text output."""
    return subprocess.run(
        [sys.executable, "-m", "airloom", *args],
        capture_output=True,
        text=True,
        env=airloom_env(threads),
        cwd=cwd,
        timeout=timeout,
    )
