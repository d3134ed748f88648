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


#: The environment and the command line of a command run from this checkout.
ENV = airloom_env()
COMMAND = [sys.executable, "-m", "airloom"]


def run_airloom(
    *args: str, cwd: Path | None = None, timeout: float = 300, threads: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m airloom ARGS`` with captured text output."""
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        env=airloom_env(threads),
        cwd=cwd,
        timeout=timeout,
    )


def start_airloom(*args: str, cwd: Path, stdout: int = subprocess.PIPE) -> subprocess.Popen[str]:
    """``python -m airloom ARGS`` started in the background, its stderr (and by default its
    stdout) piped as text, for tests that signal it while it runs."""
    return subprocess.Popen(
        [*COMMAND, *args], cwd=cwd, env=ENV, stdout=stdout, stderr=subprocess.PIPE, text=True
    )
