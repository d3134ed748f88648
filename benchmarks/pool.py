"""Teacher pool benchmark: does a pool of N replicas give N times one replica?

Runs ``airloom generate`` (general, hashing dedup so that the teacher is the bottleneck)
in this process against test servers in other processes, each with latency L and a
server-side concurrency cap C (so one replica serves at most C/L calls/s), and prints
the median calls/s of ``--repeat`` runs for:

* one replica as a plain ``base_url``;
* a pool of N replicas (``base_urls``), as a ratio to N·C/L and to the single replica;
* the same pool with one replica killed (SIGKILL) a third into the run: records made,
  records lost (must be 0) and calls/s, as a ratio to the (N-1)·C/L that is left.

The load average is printed with each line.

    python benchmarks/pool.py                   # N=3, C=4, L=200 ms, 300 records
    python benchmarks/pool.py --replicas 4 --records 600
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.engine import start_server  # noqa: E402

from airloom.config_load import load_config_text  # noqa: E402
from airloom.engine.runner import Engine  # noqa: E402


def teacher_section(urls: list[str], concurrency: int) -> str:
    """The config's teacher: a plain base_url for one URL, else a pool of them."""
    if len(urls) == 1:
        return f"base_url: {urls[0]}\nmodel: bench\n"
    return (
        "endpoint: teacher\nendpoints:\n"
        f"  teacher: {{model: bench, base_urls: [{', '.join(urls)}], "
        f"max_concurrency: {concurrency}}}\n"
    )


def one_run(
    urls: list[str], concurrency: int, records: int, workdir: Path, kill: int | None = None
) -> dict[str, float]:
    """One generate run; ``kill`` is the pid of a replica to kill a third into it."""
    (workdir / "topics.txt").write_text("\n".join(f"subject {i}" for i in range(500)))
    config = load_config_text(
        teacher_section(urls, concurrency) + "embedding_model: hashing\nseed: 1\n"
        f"concurrency: {{max_requests: {concurrency * len(urls)}, adaptive: false}}\n"
        f"instructors:\n  general: {{count: {records}, batch_size: 2}}\n"
    )
    engine = Engine(config, base_dir=workdir)
    if kill is not None:

        def killer() -> None:
            while engine.stats.categories.get("general") is None or (
                engine.stats.categories["general"].accepted < records // 3
            ):
                time.sleep(0.01)
            os.kill(kill, signal.SIGKILL)

        threading.Thread(target=killer, daemon=True).start()
    stats = asyncio.run(engine.run())
    general = stats.categories["general"]
    return {
        "kept": general.accepted_this_run,
        "failed": general.rejects["failed_call"],
        "calls_per_s": (stats.spending.requests - stats.requests_at_start) / stats.elapsed,
    }


def report(label: str, runs: list[dict[str, float]], limit: float, extra: str = "") -> float:
    """Print one line of medians; return the median calls/s."""
    cps = statistics.median(r["calls_per_s"] for r in runs)
    kept = statistics.median(r["kept"] for r in runs)
    failed = max(r["failed"] for r in runs)
    load = os.getloadavg()[0]
    print(
        f"{label:<34} calls {cps:6.1f}/s = {cps / limit:5.1%} of {limit:.0f}/s | "
        f"kept {kept:.0f} | failed calls {failed:.0f}{extra} | load {load:.2f}",
        flush=True,
    )
    return cps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="C per replica")
    parser.add_argument("--latency", type=float, default=0.2, help="L in seconds")
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    c, n, per_replica = args.concurrency, args.replicas, args.concurrency / args.latency
    servers = [start_server(args.latency, c) for _ in range(n)]
    urls = [url for _, url in servers]
    try:
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(one_run(urls[:1], c, args.records, Path(tmp)))
        single = report("one replica (base_url)", runs, per_replica)
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(one_run(urls, c, args.records, Path(tmp)))
        pooled = statistics.median(r["calls_per_s"] for r in runs)
        report(
            f"pool of {n} replicas",
            runs,
            n * per_replica,
            f" | {pooled / single:.2f}x one replica",
        )
        runs = []
        for _ in range(args.repeat):
            victim, url = start_server(args.latency, c)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    runs.append(one_run([url, *urls[1:]], c, args.records, Path(tmp), victim.pid))
            finally:
                victim.wait()
        lost = args.records - min(r["kept"] for r in runs)
        report(
            f"pool of {n}, one killed a third in",
            runs,
            (n - 1) * per_replica,
            f" | records lost {lost:.0f}",
        )
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
