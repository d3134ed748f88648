"""Measure the embedded local model: load times and generation throughput.

Prints the first load (GGUF dequantized, in a fresh temporary cache), the cached load
(the converted safetensors copy), the first-token latency of a streamed request, and
tokens per second for one request at a time and for batches of concurrent requests
(median of a few runs, greedy decoding).

Run:
    PYTHONPATH=src python benchmarks/local_model.py                  # everything
    PYTHONPATH=src python benchmarks/local_model.py --skip-first-load --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

from airloom.backends.base import ChatRequest, Message
from airloom.backends.local import LocalBackend, LocalModelSettings
from airloom.weights import default_cache_dir

PROMPTS = [
    "Write a Python function that checks whether a string is a palindrome, with a docstring.",
    "Explain in a few paragraphs how a hash table handles collisions.",
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "List ten tips for writing readable code, one sentence each.",
    "Describe the water cycle step by step for a ten-year-old.",
    "Write a SQL query that finds the three most expensive products per category, and explain it.",
    "Compare TCP and UDP in a short essay.",
    "Write a bash script that backs up a directory into a dated tar.gz file, with comments.",
]


def request(prompt: str, max_tokens: int) -> ChatRequest:
    return ChatRequest(
        "local", (Message("user", prompt),), {"temperature": 0, "max_tokens": max_tokens}
    )


async def timed_load(settings: LocalModelSettings) -> tuple[LocalBackend, float, str, float]:
    backend = LocalBackend(settings)
    started = time.perf_counter()
    report = await backend.load()
    wall = time.perf_counter() - started
    return backend, wall, report.source, report.save_seconds


def machine_busy_seconds() -> float | None:
    """CPU seconds used by the whole machine so far (Linux), to spot other processes' load."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


async def throughput(
    backend: LocalBackend, batch: int, max_tokens: int, runs: int
) -> tuple[list[float], float | None]:
    """Tokens/s per run, and the cores other processes used meanwhile (None if unknown)."""
    rates = []
    other_cpu = 0.0
    total_wall = 0.0
    busy_known = True
    for run in range(runs):
        prompts = [PROMPTS[(run + i) % len(PROMPTS)] for i in range(batch)]
        busy_before, own_before = machine_busy_seconds(), time.process_time()
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(backend.complete(request(p, max_tokens)) for p in prompts)
        )
        elapsed = time.perf_counter() - started
        busy_after, own = machine_busy_seconds(), time.process_time() - own_before
        rates.append(sum(r.usage.completion_tokens for r in responses) / elapsed)
        total_wall += elapsed
        if busy_before is None or busy_after is None:
            busy_known = False
        else:
            other_cpu += max(0.0, (busy_after - busy_before) - own)
    return rates, (other_cpu / total_wall if busy_known and total_wall else None)


async def first_token(backend: LocalBackend, runs: int) -> list[float]:
    """Seconds from sending a streamed request to its first text delta, per run."""
    latencies = []
    for run in range(runs):
        started = time.perf_counter()
        stream = backend.stream(request(PROMPTS[run % len(PROMPTS)], 16))
        async with contextlib.aclosing(stream):
            async for _ in stream:
                latencies.append(time.perf_counter() - started)
                break
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median shown)")
    parser.add_argument("--max-tokens", type=int, default=64, help="new tokens per request")
    parser.add_argument("--batch-sizes", default="1,4", help="comma-separated, e.g. 1,4,8")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"]
    )
    parser.add_argument(
        "--skip-first-load", action="store_true", help="do not time a GGUF conversion"
    )
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    common = {"threads": args.threads, "dtype": args.dtype, "max_batch_size": max(batch_sizes)}

    with tempfile.TemporaryDirectory(prefix="airloom-bench-") as scratch:
        cache = default_cache_dir()
        if not args.skip_first_load:
            cache = Path(scratch)
            backend, wall, source, save = await timed_load(
                LocalModelSettings(cache_dir=cache, **common)
            )
            print(
                f"first load  ({source}): {wall:6.1f} s"
                f"  (of which saving the converted copy {save:.1f} s)"
            )
            await backend.aclose()
        backend, wall, source, _ = await timed_load(LocalModelSettings(cache_dir=cache, **common))
        report = backend.load_report
        assert report is not None
        print(f"cached load ({source}): {wall:6.1f} s  [{report.device}, {report.dtype}]")
        await throughput(backend, 1, 8, 1)  # warm-up
        print(f"torch threads: {args.threads or 'all available cores'}")
        latencies = await first_token(backend, args.runs)
        shown = ", ".join(f"{1000 * t:.0f}" for t in latencies)
        print(
            f"first token: {1000 * statistics.median(latencies):6.0f} ms"
            f" (median of {args.runs}: {shown})"
        )
        for batch in batch_sizes:
            rates, others = await throughput(backend, batch, args.max_tokens, args.runs)
            shown = ", ".join(f"{r:.1f}" for r in rates)
            noise = "" if others is None else f"; other processes used {others:.2f} cores"
            print(
                f"batch {batch:2d}: {statistics.median(rates):6.1f} tokens/s"
                f" (median of {args.runs}: {shown}), {args.max_tokens} max new tokens"
                f" per request{noise}"
            )
        print(f"largest batch formed: {backend.stats.largest_batch}")
        await backend.aclose()


if __name__ == "__main__":
    asyncio.run(main())
