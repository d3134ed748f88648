"""Engine throughput and resume benchmark.

Runs ``airloom generate`` (general, dedup on with the default MiniLM embeddings) in this
process against the OpenAI-compatible test server in another process, with a fixed
latency L and a server-side concurrency cap C, and prints:

* the physical limit on this machine: a bare async client (C tasks posting a request of
  the same size and reading the bytes; no parsing, no dedup, no store) against the same
  server, in calls/s and as a share of the teacher limit C/L — on aiohttp, the transport
  airloom uses, and on httpx (the transport it replaced: its pool's per-request
  bookkeeping over every connection made it CPU-bound at 64 connections);
* airloom's client alone (``OpenAIBackend.complete``: request built and reply parsed with
  the wire schema) as a ratio of the bare client;
* ``airloom generate``: teacher calls/s over the whole run and steady (between 10 % and 90 %
  of the target), as ratios of the bare client and of C/L; kept records/s (a round of
  batch_size b costs 1 + b calls, so records/s ≤ b/(b+1)·calls/s); the client's CPU per
  teacher call (every thread: event loop, embedder, store); teacher calls per kept record;
  rejects; peak memory (RSS);
* the resume time of a 100,000-record store (open, counts, index rebuilt from stored
  embeddings — nothing re-embedded).

Medians over ``--repeat`` runs, each case headed by the load average (the machine may be
shared: the ratios to the bare client, measured beside each run, are the robust figure).

    python benchmarks/engine.py                 # C=8 and C=64 at L=200 ms, resume of 100k
    python benchmarks/engine.py --only resume
    python benchmarks/engine.py --only c64 --records 0.34 --embedding off   # dedup's share
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from airloom.backends.base import ChatRequest, Message  # noqa: E402
from airloom.backends.openai import OpenAIBackend  # noqa: E402
from airloom.config_load import load_config_text  # noqa: E402
from airloom.engine.runner import Engine  # noqa: E402
from airloom.errors import TransientBackendError  # noqa: E402
from airloom.formats.records import Record, dedup_key  # noqa: E402
from airloom.store.database import Store  # noqa: E402


def start_server(latency: float, concurrency: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.openai_server",
            "--latency",
            str(latency),
            "--concurrency",
            str(concurrency),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} CPUs"


# A request of the size a general-instructor call sends (system prompt and instructions).
PROMPT = ("Write a detailed, helpful answer to the following instruction. " * 24).strip()


async def for_seconds(
    seconds: float, concurrency: int, call: Callable[[], Awaitable[Any]]
) -> float:
    """Calls/s of ``concurrency`` tasks each calling ``call`` in a loop for ``seconds``; a
    call that fails on a keep-alive connection the server closed is not counted."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            try:
                await call()
            except (httpx.TransportError, TransientBackendError, OSError):
                continue
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def bare_calls(url: str, concurrency: int, seconds: float) -> float:
    """Calls/s of a bare httpx client: C tasks, one keep-alive pool, bytes read, no parsing."""
    body = json.dumps(
        {"model": "bench", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 512}
    ).encode()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, limits=limits, headers=headers) as client:

        async def call() -> None:
            response = await client.post("/chat/completions", content=body)
            await response.aread()

        return await for_seconds(seconds, concurrency, call)


async def bare_aiohttp_calls(url: str, concurrency: int, seconds: float) -> float:
    """The same bare client on aiohttp, the transport of airloom's client."""
    import aiohttp

    body = json.dumps(
        {"model": "bench", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 512}
    ).encode()
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def call() -> None:
            async with session.post(f"{url}/chat/completions", data=body) as response:
                await response.read()

        return await for_seconds(seconds, concurrency, call)


async def client_calls(url: str, concurrency: int, seconds: float) -> float:
    """Calls/s of airloom's client alone (request built, reply parsed; no engine)."""
    backend = OpenAIBackend(base_url=url, api_key=None, max_connections=concurrency)
    request = ChatRequest("bench", (Message("user", PROMPT),), {"max_tokens": 512})
    try:
        return await for_seconds(seconds, concurrency, lambda: backend.complete(request))
    finally:
        await backend.aclose()


class CpuAtStart:
    """An event sink that notes the process CPU time when the timed part starts."""

    def __init__(self) -> None:
        self.cpu = 0.0

    def emit(self, event: str, **fields: Any) -> None:
        if event == "run_started":
            self.cpu = time.process_time()


async def generate_sampled(engine: Engine, target: int) -> tuple[Any, float, float]:
    """Run the engine; sample the kept count to time the first record (from the start of
    the timed part) and the steady part (10 % → 90 % of the target)."""
    marks: dict[float, float] = {}
    task = asyncio.ensure_future(engine.run())
    while not task.done():
        await asyncio.sleep(0.02)
        general = engine.stats.categories.get("general")
        kept = general.accepted_this_run if general else 0
        for share in (1 / target, 0.1, 0.9):
            if share not in marks and kept >= share * target:
                marks[share] = time.monotonic()
    stats = await task
    steady = (marks[0.9] - marks[0.1]) if 0.1 in marks and 0.9 in marks else float("nan")
    first = marks.get(1 / target, float("nan")) - stats.started
    return stats, steady, first


def dedup_lines(embedding: str, backend: str = "auto") -> str:
    """Config lines for ``--embedding`` (``off``: dedup disabled) and ``--backend``."""
    if embedding == "off":
        return "dedup: {enabled: false}\n"
    return f"embedding_model: {embedding}\nembedding_backend: {backend}\n"


def one_generate(
    url: str,
    concurrency: int,
    count: int,
    batch: int,
    workdir: Path,
    embedding: str,
    backend: str = "auto",
) -> dict[str, float]:
    (workdir / "topics.txt").write_text("\n".join(f"subject {i}" for i in range(500)))
    config = load_config_text(
        f"base_url: {url}\nmodel: bench\nseed: 1\n{dedup_lines(embedding, backend)}"
        f"concurrency: {{max_requests: {concurrency}, adaptive: false}}\n"
        f"instructors:\n  general: {{count: {count}, batch_size: {batch}}}\n"
    )
    sink = CpuAtStart()
    engine = Engine(config, base_dir=workdir, events=sink)
    stats, steady_seconds, first = asyncio.run(generate_sampled(engine, count))
    cpu = time.process_time() - sink.cpu
    general = stats.categories["general"]
    # the timed part starts once the embedder and store are ready (run_started)
    calls = stats.spending.requests - stats.requests_at_start
    return {
        "kept": general.accepted_this_run,
        "seconds": stats.elapsed,
        "calls": calls,
        # kept and calls rise together: 80 % of the kept records took 80 % of the calls
        "steady_calls": 0.8 * calls / steady_seconds,
        "cpu_ms": 1000 * cpu / max(calls, 1),
        "rejects": sum(general.rejects.values()),
        "first": first,
    }


def bench_generate(
    latency: float,
    concurrency: int,
    count: int,
    batch: int,
    repeat: int,
    embedding: str,
    backend: str = "auto",
) -> None:
    proc, url = start_server(latency, concurrency)
    limit = concurrency / latency
    print(f"C={concurrency} L={latency * 1000:.0f}ms (limit C/L={limit:.0f} calls/s), {load()}")
    try:
        asyncio.run(bare_aiohttp_calls(url, concurrency, 1.0))  # the server warmed up
        runs, bares, httpxs, clients = [], [], [], []
        for _ in range(repeat):
            bares.append(asyncio.run(bare_aiohttp_calls(url, concurrency, 6.0)))
            httpxs.append(asyncio.run(bare_calls(url, concurrency, 6.0)))
            clients.append(asyncio.run(client_calls(url, concurrency, 6.0)))
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(
                    one_generate(url, concurrency, count, batch, Path(tmp), embedding, backend)
                )
    finally:
        proc.terminate()
        proc.wait()
    bare = statistics.median(bares)
    client = statistics.median(clients)
    on_httpx = statistics.median(httpxs)
    print(
        f"  bare client      {bare:6.1f} calls/s = {bare / limit:5.1%} of C/L (aiohttp)\n"
        f"  bare httpx       {on_httpx:6.1f} calls/s = {on_httpx / bare:5.1%} of bare\n"
        f"  airloom client   {client:6.1f} calls/s = {client / bare:5.1%} of bare"
    )
    rps = statistics.median(r["kept"] / r["seconds"] for r in runs)
    cps = statistics.median(r["calls"] / r["seconds"] for r in runs)
    steady = statistics.median(r["steady_calls"] for r in runs)
    print(
        f"  airloom generate {cps:6.1f} calls/s = {cps / bare:5.1%} of bare = "
        f"{cps / limit:5.1%} of C/L (whole run, {count} records, batch {batch}, "
        f"dedup {embedding}, {backend})\n"
        f"                   {steady:6.1f} calls/s = {steady / bare:5.1%} of bare = "
        f"{steady / limit:5.1%} of C/L (steady, 10 %→90 % of the target)\n"
        f"                   kept {rps:.1f} records/s | first after "
        f"{statistics.median(r['first'] for r in runs):.2f} s | "
        f"CPU {statistics.median(r['cpu_ms'] for r in runs):.2f} ms per teacher call | "
        f"{statistics.median(r['calls'] / max(r['kept'], 1) for r in runs):.3f} calls/kept | "
        f"rejects {statistics.median(r['rejects'] for r in runs):.0f} | "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    print(f"  {load()}")


def build_store(path: Path, n: int, dim: int = 384) -> None:
    rng = np.random.default_rng(0)
    with Store.open(
        path,
        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
        output_path="instructions.jsonl",
    ) as store:
        for start in range(0, n, 5000):
            vectors = rng.standard_normal((min(5000, n - start), dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            records = [
                Record(
                    id=f"r{start + i}",
                    category="general",
                    unit=f"r{start + i}",
                    instruction=f"instruction number {start + i}",
                    response="response text",
                    dedup_key=dedup_key(f"instruction number {start + i}"),
                    embedding=vectors[i],
                )
                for i in range(len(vectors))
            ]
            store.commit_batch(records)


def bench_resume(n: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        build_store(workdir / "instructions.airloom.db", n)
        config = load_config_text(
            f"backend: scripted\nscript_path: demo\nseed: 1\n"
            f"instructors:\n  general: {{count: {n}}}\n"
        )
        times = []
        for _ in range(repeat):
            engine = Engine(config, base_dir=workdir)

            async def resume(engine: Engine = engine) -> float:
                started = time.perf_counter()
                await engine._setup()
                await engine.db(engine.store.counts)
                await engine._load_dedup()
                elapsed = time.perf_counter() - started
                engine.gate.start()
                await engine._shutdown("completed")
                return elapsed

            times.append(asyncio.run(resume()))
            assert len(engine.dedup) == n
        print(
            f"resume of a {n:,}-record store (index rebuilt from stored embeddings, "
            f"embedder load included): median {statistics.median(times):.2f} s "
            f"(runs: {', '.join(f'{t:.2f}' for t in times)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["c8", "c64", "resume"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument(
        "--embedding",
        default="sentence-transformers/all-MiniLM-L6-v2",
        help="the dedup gate's embedding_model (hashing, a model name), or off",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "torch", "onnx", "onnx-int8"],
        help="the dedup gate's embedding_backend",
    )
    parser.add_argument(
        "--records", type=float, default=1.0, help="scale the record targets (600 and 3000)"
    )
    args = parser.parse_args()
    if args.only in (None, "c8"):
        bench_generate(
            0.2, 8, int(600 * args.records), args.batch, args.repeat, args.embedding, args.backend
        )
    if args.only in (None, "c64"):
        bench_generate(
            0.2, 64, int(3000 * args.records), args.batch, args.repeat, args.embedding, args.backend
        )
    if args.only in (None, "resume"):
        bench_resume(100_000, args.repeat)


if __name__ == "__main__":
    main()
