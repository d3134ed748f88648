"""What a real server's errors and outages do to a run: its own message is shown and
kept, an error that never changes stops the run at once, an outage pauses the run."""

from __future__ import annotations

import gc
import io
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from airloom.cli.progress import EndpointNotices
from airloom.errors import ConfigError, FatalBackendError
from tests.support.openai_server import Fault, HeldAfter
from tests.wire.test_engine_wire import make_config, run

ROOT = Path(__file__).resolve().parents[2]
VALIDATION = "1 validation error for CreateChatCompletionRequest min_p: must be <= 1 (got 7.0)"


def test_a_500_with_a_fixed_validation_message_stops_within_seconds(openai_server, tmp_path):
    server = openai_server(faults=[Fault("500", times=10_000, message=VALIDATION)])
    config = make_config(
        tmp_path,
        server.url,
        # the defaults: six attempts per call, backoff from one second
        "retry: {max_attempts: 6, backoff_initial: 1.0, backoff_max: 60}\n"
        "api_params: {min_p: 7}\n"
        "instructors:\n  general: {count: 20}\n",
    )
    started = time.monotonic()
    with pytest.raises(FatalBackendError) as info:
        run(config, tmp_path)
    assert time.monotonic() - started < 15
    assert VALIDATION in info.value.message and "HTTP 500" in info.value.message
    assert info.value.hint is not None and "api_params 'min_p' (sent: 7)" in info.value.hint
    assert server.state.requests < 40


def test_the_cli_shows_the_servers_message(openai_server, tmp_path):
    server = openai_server(faults=[Fault("500", times=10_000, message=VALIDATION)])
    (tmp_path / "topics.txt").write_text("a\nb\nc\n")
    path = tmp_path / "run.yaml"
    path.write_text(
        f"base_url: {server.url}\nmodel: m\nembedding_model: hashing\n"
        "retry: {backoff_initial: 0.2}\napi_params: {min_p: 7}\n"
        "instructors:\n  general: {count: 3}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "airloom", "generate", "-c", str(path), "--quiet"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 4, result.stderr
    assert VALIDATION in result.stderr and "fix api_params 'min_p'" in result.stderr
    assert "Traceback" not in result.stderr and "never retrieved" not in result.stderr


def test_a_rejected_request_keeps_the_servers_message(openai_server, tmp_path):
    server = openai_server(
        faults=[Fault("400", times=1, message="'stop' must hold at most 4 sequences")]
    )
    config = make_config(tmp_path, server.url, "instructors:\n  general: {count: 4}\n")
    _, stats = run(config, tmp_path)
    assert stats.status == "completed"
    with sqlite3.connect(tmp_path / "instructions.airloom.db") as db:
        details = [row[0] for row in db.execute("SELECT detail FROM rejects")]
    assert any("(HTTP 400): 'stop' must hold at most 4 sequences" in d for d in details)


def test_an_outage_longer_than_the_retry_window_pauses_the_run(openai_server, tmp_path):
    held = HeldAfter(6)
    server = openai_server(backend=held, latency=0.02)
    config = make_config(
        tmp_path,
        server.url,
        "retry: {max_attempts: 2, backoff_initial: 0.01, backoff_max: 0.3}\n"
        "stall_rounds: 2\nconcurrency: {max_requests: 4}\n"
        "instructors:\n  general: {count: 40, batch_size: 2}\n",
    )
    events: list[tuple[str, dict]] = []
    outage: list[threading.Thread] = []

    class Sink:
        def emit(self, event: str, **fields: object) -> None:
            events.append((event, fields))

    def take_down() -> None:
        held.reached.wait(timeout=30)
        outage.append(server.outage(2.0))
        held.released.set()

    watcher = threading.Thread(target=take_down, daemon=True)
    watcher.start()
    shown = Console(file=io.StringIO(), width=200)
    _, stats = run(config, tmp_path, events=EndpointNotices(shown, Sink()))
    watcher.join(timeout=5)
    assert outage, "the server was never taken down"
    assert stats.status == "completed", stats.message
    assert {name: c.state for name, c in stats.categories.items()} == {"general": "done"}
    names = [name for name, _ in events]
    assert "endpoint_waiting" in names and "endpoint_back" in names
    waiting = dict(events[names.index("endpoint_waiting")][1])
    assert waiting["endpoint"] == server.url
    back = names.index("endpoint_back")
    assert back > names.index("endpoint_waiting")
    assert all(c.rejects["failed_call"] == 0 for c in stats.categories.values())
    assert stats.spending.waiting == {}
    printed = shown.file.getvalue()
    assert f"waiting for {server.url} (since " in printed
    assert f"{server.url} answers again after" in printed


def test_a_missing_template_stops_cleanly(openai_server, tmp_path, caplog):
    server = openai_server()
    config = make_config(
        tmp_path,
        server.url,
        "instructors:\n  general: {count: 30, batch_size: 2, prompt_path: gone/general.txt}\n"
        "  joke: {count: 30, prompt_path: gone/joke.txt}\n",
    )
    with caplog.at_level(logging.ERROR, logger="asyncio"), pytest.raises(ConfigError):
        run(config, tmp_path)
    gc.collect()
    assert "never retrieved" not in caplog.text
