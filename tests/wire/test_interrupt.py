"""Ctrl-C and SIGTERM on a real `airloom generate` process: a message at once, a stop
within the grace period, no traceback, `interrupted` in the summary, and a resume."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.cli import run_airloom, start_airloom


@pytest.fixture
def slow_server(teacher_process):
    """A scripted teacher that takes 2 s per call (slower than a stop may take)."""
    return teacher_process(2.0)


def in_flight(url: str) -> int:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_stats", timeout=5) as reply:
        stats = json.load(reply)
    return int(stats["requests"]) - int(stats["completed"])


def start(tmp_path: Path, url: str, *, topics: bool, grace: float) -> subprocess.Popen[str]:
    if topics:
        (tmp_path / "topics.txt").write_text("\n".join(f"subject {i}" for i in range(30)))
    (tmp_path / "config.yaml").write_text(
        f"base_url: {url}\nmodel: t\nembedding_model: hashing\nseed: 3\n"
        f"topic_request_count: 6\n"
        f"concurrency: {{max_requests: 4, stop_grace: {grace}}}\n"
        "instructors:\n  general: {count: 6, batch_size: 3}\n"
    )
    return start_airloom("generate", "-c", "config.yaml", cwd=tmp_path)


def wait_for_calls(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while in_flight(url) < 1:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no call started"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("phase", "signum"),
    [("topics", signal.SIGINT), ("instructors", signal.SIGINT), ("instructors", signal.SIGTERM)],
)
def test_one_signal_stops_within_the_grace_period(slow_server, tmp_path, phase, signum):
    proc = start(tmp_path, slow_server, topics=phase == "instructors", grace=3.0)
    wait_for_calls(slow_server, proc)
    sent = time.monotonic()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert took < 3.0 + 4.0, f"stopping took {took:.1f} s"
    assert "stopping: waiting up to 3 s for" in err and "Ctrl-C again to stop now" in err
    assert "Traceback" not in err
    assert "interrupted" in err and "run the same command again to resume" in err
    assert " running" not in err.split("airloom run:")[-1]  # no category left 'running'


def test_a_second_ctrl_c_stops_at_once_and_the_rerun_resumes(slow_server, tmp_path):
    proc = start(tmp_path, slow_server, topics=True, grace=60.0)
    wait_for_calls(slow_server, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5.0
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "stopping now" in err
    rerun = run_airloom("generate", "-c", "config.yaml", "--quiet", cwd=tmp_path, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["status"] == "completed"
    assert summary["categories"]["general"]["accepted"] == 6


@pytest.mark.parametrize("command", ["ask", "plan"])
def test_ctrl_c_stops_a_waiting_one_shot_command_at_once(slow_server, tmp_path, command):
    (tmp_path / "docs").mkdir()
    corpus = ["--corpus", "docs"] if command == "plan" else []
    model = ["--base-url", slow_server, "--model", "m"]
    proc = start_airloom(command, "Hello?", *model, *corpus, cwd=tmp_path)
    wait_for_calls(slow_server, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 1.5
    assert proc.returncode == 130, err
    assert "stopping…" in err and "interrupted" in err and "Traceback" not in err


def test_ctrl_c_stops_the_judge_and_keeps_its_verdicts(slow_server, tmp_path):
    (tmp_path / "topics.txt").write_text("\n".join(f"subject {i}" for i in range(30)))
    (tmp_path / "config.yaml").write_text(
        "backend: scripted\nscript_path: demo\nembedding_model: hashing\nseed: 3\n"
        "instructors:\n  general: {count: 12, batch_size: 3}\n"
    )
    filled = run_airloom("generate", "-c", "config.yaml", "-q", cwd=tmp_path, timeout=120)
    assert filled.returncode == 0, filled.stderr[-2000:]
    (tmp_path / "judge.yaml").write_text(
        f"base_url: {slow_server}\nmodel: judge\nembedding_model: hashing\n"
        "output_path: instructions.jsonl\nconcurrency: {max_requests: 3, stop_grace: 5}\n"
    )
    proc = start_airloom("judge", "-c", "judge.yaml", cwd=tmp_path)
    wait_for_calls(slow_server, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5.0 + 2.0
    assert proc.returncode == 130, err
    assert "stopping: waiting up to 5 s for 3 calls in flight" in err
    assert "interrupted" in err and "run the same command again" in err
    assert "Traceback" not in err
