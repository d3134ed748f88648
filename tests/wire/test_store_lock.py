"""One writer per store: a second writer stops at once naming the first; a lock left by a
``kill -9`` is taken over."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from airloom.errors import StoreError
from airloom.store.database import Store
from airloom.store.lock import holder, lock_path, writer_lock
from tests.support.cli import COMMAND, ENV, run_airloom
from tests.support.openai_server import OpenAIServer


@pytest.fixture
def server():
    with OpenAIServer(latency=1.0) as running:
        yield running


def test_a_second_generate_on_the_same_store_stops_at_once(server, tmp_path):
    (tmp_path / "topics.txt").write_text("\n".join(f"subject {i}" for i in range(20)))
    (tmp_path / "config.yaml").write_text(
        f"base_url: {server.url}\nmodel: t\nembedding_model: hashing\nseed: 3\n"
        "concurrency: {max_requests: 1}\ninstructors:\n  general: {count: 12, batch_size: 4}\n"
    )
    command = ["generate", "-c", "config.yaml", "--quiet"]
    first = subprocess.Popen(
        [*COMMAND, *command],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = tmp_path / "instructions.airloom.db"
    deadline = time.monotonic() + 60
    while not lock_path(store).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    calls_before = server.state.completed
    started = time.monotonic()
    second = run_airloom(*command, cwd=tmp_path)
    assert time.monotonic() - started < 20
    assert second.returncode != 0
    message = second.stderr.strip()
    assert message.startswith("error: ") and "Traceback" not in message
    assert f"in use by process {first.pid}" in message and "generate" in message
    _out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 12
        paid = db.execute("SELECT COUNT(*) FROM request_cache").fetchone()[0]
    assert server.state.completed == paid  # the second run paid for nothing
    assert calls_before <= paid
    assert not lock_path(store).exists()


def test_a_lock_left_by_kill_minus_nine_is_taken_over(tmp_path):
    store = tmp_path / "s.airloom.db"
    script = textwrap.dedent(
        f"""
        import os, signal
        from airloom.store.database import Store
        Store.open({str(store)!r}, embedding_model="hashing")
        print(os.getpid(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run(
        [sys.executable, "-c", script], env=ENV, capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    assert holder(store)["pid"] == int(killed.stdout)  # the stale lock is still there
    with Store.open(store, embedding_model="hashing") as opened:
        assert holder(store)["pid"] == os.getpid()
        assert opened.record_count() == 0
    assert not lock_path(store).exists()


def test_a_writer_in_another_process_is_refused_readers_are_not(tmp_path):
    store = tmp_path / "s.airloom.db"
    Store.open(store, embedding_model="hashing").close()
    script = textwrap.dedent(
        f"""
        import sys, time
        from airloom.store.lock import writer_lock
        with writer_lock({str(store)!r}, "judge"):
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    other = subprocess.Popen(
        [sys.executable, "-c", script],
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=f"in use by process {other.pid} .*airloom judge"):
            Store.open(store)
        with Store.open(store, create=False, read_only=True) as reader:
            assert reader.record_count() == 0
    finally:
        other.communicate("", timeout=30)
    with Store.open(store) as first, Store.open(store) as second:  # re-entrant in one process
        assert first.record_count() == second.record_count() == 0
        assert lock_path(store).exists()
    assert not lock_path(store).exists()
    with writer_lock(store, "x"):
        assert holder(store)["command"] == "x"
