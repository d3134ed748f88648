"""Engine throughput and resume benchmark.

Runs ``airloom generate`` (general, dedup on with the default MiniLM embeddings) in this
process against the OpenAI-compatible test server in another process, with a fixed
latency L and a server-side concurrency cap C, and prints:

* kept records/s and its ratio to the server's limit C/L (calls/s), and the calls/s
  utilisation (a round of batch_size b costs 1 + b calls, so records/s ≤ b/(b+1)·C/L);
* teacher calls per kept record; peak memory (RSS);
* the resume time of a 100,000-record store (open, counts, index rebuilt from stored
  embeddings — nothing re-embedded).

Medians over ``--repeat`` runs.

    python benchmarks/engine.py                 # C=8 and C=64 at L=200 ms, resume of 100k
    python benchmarks/engine.py --only resume
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from airloom.config import load_config_text  # noqa: E402
from airloom.engine.runner import Engine  # noqa: E402
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


def one_generate(
    url: str, concurrency: int, count: int, batch: int, workdir: Path
) -> dict[str, float]:
    (workdir / "topics.txt").write_text("\n".join(f"subject {i}" for i in range(500)))
    config = load_config_text(
        f"base_url: {url}\nmodel: bench\nseed: 1\n"
        f"concurrency: {{max_requests: {concurrency}, adaptive: false}}\n"
        f"instructors:\n  general: {{count: {count}, batch_size: {batch}}}\n"
    )
    engine = Engine(config, base_dir=workdir)
    stats = asyncio.run(engine.run())
    general = stats.categories["general"]
    # the timed part starts once the embedder and store are ready (run_started)
    elapsed = stats.elapsed
    calls = stats.spending.requests - stats.requests_at_start
    return {
        "kept": general.accepted_this_run,
        "seconds": elapsed,
        "calls": calls,
        "rejects": sum(general.rejects.values()),
    }


def bench_generate(latency: float, concurrency: int, count: int, batch: int, repeat: int) -> None:
    proc, url = start_server(latency, concurrency)
    try:
        runs = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(one_generate(url, concurrency, count, batch, Path(tmp)))
    finally:
        proc.terminate()
        proc.wait()
    limit = concurrency / latency
    rps = statistics.median(r["kept"] / r["seconds"] for r in runs)
    cps = statistics.median(r["calls"] / r["seconds"] for r in runs)
    per_record = statistics.median(r["calls"] / max(r["kept"], 1) for r in runs)
    rejects = statistics.median(r["rejects"] for r in runs)
    print(
        f"C={concurrency:<3} L={latency * 1000:.0f}ms batch={batch} records={count}: "
        f"kept {rps:7.1f} records/s = {rps / limit:5.1%} of C/L={limit:.0f}/s | "
        f"calls {cps:6.1f}/s = {cps / limit:5.1%} utilisation | "
        f"{per_record:.3f} calls/kept record | rejects {rejects:.0f} | "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


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
                await engine._shutdown("completed", export=False)
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
    args = parser.parse_args()
    if args.only in (None, "c8"):
        bench_generate(0.2, 8, 600, args.batch, args.repeat)
    if args.only in (None, "c64"):
        bench_generate(0.2, 64, 3000, args.batch, args.repeat)
    if args.only in (None, "resume"):
        bench_resume(100_000, args.repeat)


if __name__ == "__main__":
    main()
