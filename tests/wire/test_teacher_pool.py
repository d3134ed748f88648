"""A teacher pool against real replicas (the test server, several instances): calls are
spread over them, a replica killed mid-run loses nothing and the others take its calls,
a pool with every replica away pauses the run, and one that never answered stops it
with a clear message."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
import sqlite3
import threading
import time

from rich.console import Console

from airloom.cli.progress import EndpointNotices, print_summary
from airloom.engine.runner import Engine
from tests.support.cli import run_airloom
from tests.support.openai_server import HeldAfter
from tests.wire.test_engine_wire import make_config, run


def pool_config(tmp_path, urls, extra=""):
    """The test config with the pool ``teacher`` over ``urls`` as the default teacher."""
    return make_config(
        tmp_path,
        urls[0],
        "base_url: null\nendpoint: teacher\n"
        "endpoints:\n"
        f"  teacher: {{model: teacher-1, base_urls: [{', '.join(urls)}], max_concurrency: 4, "
        "rest_initial: 0.3, rest_max: 2}\n"
        "concurrency: {max_requests: 12}\n" + extra,
    )


class Sink:
    """Keeps the run's events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def emit(self, event: str, **fields: object) -> None:
        self.events.append((event, fields))

    def named(self, event: str) -> list[dict]:
        return [fields for name, fields in self.events if name == event]


def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_a_replica_killed_mid_run_loses_nothing(openai_server, teacher_processes, tmp_path):
    live = [openai_server(latency=0.05), openai_server(latency=0.05)]
    victim, victim_url = teacher_processes(0.2)
    urls = [live[0].url, victim_url, live[1].url]
    config = pool_config(tmp_path, urls, "instructors:\n  general: {count: 60, batch_size: 2}\n")
    sink = Sink()
    shown = Console(file=io.StringIO(), width=200)
    engine = Engine(config, base_dir=tmp_path, events=EndpointNotices(shown, sink))
    at_kill: dict[str, int] = {}

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replicas = engine.stats.pools.get("teacher")
            if replicas and replicas[1].figures.calls >= 3 and replicas[1].outstanding >= 2:
                at_kill.update(calls=replicas[1].figures.calls, outstanding=replicas[1].outstanding)
                victim.send_signal(signal.SIGKILL)
                return
            time.sleep(0.002)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    stats = asyncio.run(engine.run())
    killer.join(timeout=5)
    assert at_kill, "the replica was never killed while it had calls in flight"

    # nothing lost: the run completes, every call was answered once and stored once
    assert stats.status == "completed", stats.message
    general = stats.categories["general"]
    assert general.accepted == 60 and general.rejects["failed_call"] == 0
    with sqlite3.connect(tmp_path / "instructions.airloom.db") as db:
        records, distinct = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT id) FROM records"
        ).fetchone()
        cached = db.execute("SELECT COUNT(*) FROM request_cache").fetchone()[0]
        endpoints = {row[0] for row in db.execute("SELECT DISTINCT endpoint FROM records")}
    assert records == distinct == 60 and endpoints == {"teacher"}
    assert cached == stats.spending.requests

    # the calls in flight on the killed replica went to the others; it answered no more
    rows = {row["replica"]: row for row in stats.replica_rows()}
    dead = rows[victim_url]
    late = dead["calls"] - at_kill["calls"]  # answers already on their way at the kill
    assert 0 <= late < at_kill["outstanding"]
    assert dead["errors"] >= at_kill["outstanding"] - late and dead["rested"] >= 1
    assert dead["state"] in ("resting", "probing")
    assert sum(row["calls"] for row in rows.values()) == stats.spending.requests
    assert sum(server.state.completed for server in live) == (
        stats.spending.requests - dead["calls"]
    )
    assert all(rows[server.url]["errors"] == 0 for server in live)
    assert all(rows[server.url]["mean_latency_s"] >= 0.05 for server in live)

    # the run said so while it ran, and the summary shows it replica by replica
    rested = sink.named("replica_rested")
    assert rested and rested[0]["replica"] == victim_url and rested[0]["endpoint"] == "teacher"
    assert f"teacher: replica {victim_url} rests " in shown.file.getvalue()
    summary = Console(file=io.StringIO(), width=200)
    print_summary(stats, summary)
    table = summary.file.getvalue()
    assert "teacher pools" in table
    victim_row = next(line for line in table.splitlines() if victim_url in line and "│" in line)
    cells = [cell.strip() for cell in victim_row.split("│")]
    assert cells[3] == str(dead["calls"]) and cells[7] in ("resting", "probing")


def test_calls_spread_by_load_within_each_replicas_limit(openai_server, tmp_path):
    servers = [openai_server(latency=0.05) for _ in range(3)]
    config = make_config(
        tmp_path,
        servers[0].url,
        "base_url: null\n"
        "endpoints:\n  teacher:\n    model: teacher-1\n    base_urls:\n"
        f"      - {servers[0].url}\n"
        f"      - {{base_url: {servers[1].url}, max_concurrency: 1}}\n"
        f"      - {servers[2].url}\n"
        "    max_concurrency: 3\n"
        "concurrency: {max_requests: 7}\n"
        "instructors:\n  general: {count: 40, batch_size: 1, endpoint: teacher}\n",
    )
    _, stats = run(config, tmp_path)
    assert stats.status == "completed", stats.message
    peaks = [server.state.peak_in_flight for server in servers]
    assert peaks[1] == 1 and max(peaks[0], peaks[2]) <= 3
    served = [server.state.completed for server in servers]
    assert all(served), served
    assert served[1] < min(served[0], served[2])  # a third of the room, fewer calls
    rows = stats.replica_rows()
    assert [row["calls"] for row in rows] == served
    assert all(row["rested"] == 0 and row["state"] == "ready" for row in rows)


def test_every_replica_away_pauses_the_run_until_one_answers(openai_server, tmp_path):
    held = HeldAfter(6)
    servers = [openai_server(backend=held, latency=0.02) for _ in range(2)]
    config = pool_config(
        tmp_path,
        [server.url for server in servers],
        "retry: {max_attempts: 2, backoff_initial: 0.01, backoff_max: 0.3}\n"
        "stall_rounds: 2\ninstructors:\n  general: {count: 40, batch_size: 2}\n",
    )
    sink = Sink()
    outages: list[threading.Thread] = []

    def take_down() -> None:
        held.reached.wait(timeout=30)
        outages.extend(server.outage(1.5) for server in servers)
        held.released.set()

    watcher = threading.Thread(target=take_down, daemon=True)
    watcher.start()
    shown = Console(file=io.StringIO(), width=200)
    _, stats = run(config, tmp_path, events=EndpointNotices(shown, sink))
    watcher.join(timeout=10)
    assert len(outages) == 2, "the replicas were never taken down"
    assert stats.status == "completed", stats.message
    assert stats.categories["general"].rejects["failed_call"] == 0
    # a call sent before the outage may still be answered during it: the pause may end
    # and begin again, but it always ends, and names the pool
    waits, backs = sink.named("endpoint_waiting"), sink.named("endpoint_back")
    assert waits and {fields["endpoint"] for fields in waits} == {"teacher"}
    assert len(backs) == len(waits) and sink.named("replica_back")
    assert "waiting for teacher (since " in shown.file.getvalue()
    assert stats.spending.waiting == {}


def test_a_pool_that_never_answers_stops_with_a_clear_message(tmp_path):
    urls = [closed_port_url(), closed_port_url()]
    (tmp_path / "topics.txt").write_text("a\nb\n")
    (tmp_path / "run.yaml").write_text(
        "embedding_model: hashing\nendpoint: teacher\n"
        f"endpoints:\n  teacher: {{model: m, base_urls: [{', '.join(urls)}]}}\n"
        "retry: {max_attempts: 2, backoff_initial: 0.01, backoff_max: 0.05, "
        "max_consecutive_failures: 3}\n"
        "instructors:\n  general: {count: 2}\n"
    )
    checked = run_airloom("config", "check", "run.yaml", cwd=tmp_path, timeout=120)
    assert checked.returncode == 0, checked.stderr
    assert "endpoint teacher: pool of 2 replicas serving m" in checked.stdout
    assert all(url in checked.stdout for url in urls)
    result = run_airloom("generate", "-c", "run.yaml", "--quiet", cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "no replica of teacher can take the call" in result.stderr
    assert all(url in result.stderr for url in urls)
    assert "Traceback" not in result.stderr
