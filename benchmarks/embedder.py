"""Dedup embedder benchmark: the packaged MiniLM on torch, ONNX fp32 and ONNX int8.

For each backend, prints

* speed: texts/s at batch 1, 8 and 32 (instruction-sized texts; medians of ``--repeat``
  timings) and the CPU per text (process CPU time, every thread), with the ratio to torch;
* agreement on the planted near-duplicate set (``tests/support/planted_duplicates.py``:
  paraphrases, reorderings, small edits vs different requests on the same topic) at the
  default ``dedup_cosine``: duplicates found / missed, false matches, decisions that
  differ from torch, and the largest cosine difference from torch.

Each backend runs with ``--threads`` intra-op threads (the gate's embedding thread gets
:func:`beside_event_loop` cores: 1 on a 2-core machine). Load average quoted.

    python benchmarks/embedder.py
    python benchmarks/embedder.py --threads 4 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.support.planted_duplicates import decide, planted_pairs  # noqa: E402

from airloom.config import DEFAULT_EMBEDDING_MODEL, Config  # noqa: E402
from airloom.vectors.embed import Embedder, beside_event_loop, make_embedder  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} CPUs"


def speed(embedder: Embedder, texts: list[str], batch: int, repeat: int) -> tuple[float, float]:
    """Median texts/s and median CPU ms per text over ``repeat`` passes over ``texts``."""
    embedder.encode(texts[:batch])  # first call per shape
    rates, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(texts), batch):
            embedder.encode(texts[start : start + batch])
        rates.append(len(texts) / (time.perf_counter() - wall))
        cpus.append((time.process_time() - cpu) * 1000 / len(texts))
    return statistics.median(rates), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=beside_event_loop())
    parser.add_argument("--texts", type=int, default=96, help="texts per timing pass")
    args = parser.parse_args()
    pairs = planted_pairs()
    texts = [text for p in pairs for text in (p.first, p.second)][: args.texts]
    threshold = Config().dedup_cosine()
    print(f"{DEFAULT_EMBEDDING_MODEL}, {args.threads} thread(s), {load()}")
    print(
        f"planted set: {len(pairs)} pairs, {sum(p.duplicate for p in pairs)} duplicates, "
        f"dedup_cosine {threshold}"
    )
    results = {}
    for backend in BACKENDS:
        started = time.perf_counter()
        embedder = make_embedder(DEFAULT_EMBEDDING_MODEL, backend=backend, threads=args.threads)
        ready = time.perf_counter() - started
        speeds = {b: speed(embedder, texts, b, args.repeat) for b in (1, 8, 32)}
        decisions = decide(embedder.encode, pairs, threshold)
        results[backend] = (speeds, decisions)
        base_speeds, base = results["torch"]
        flips = int((decisions.matched != base.matched).sum())
        diff = float(np.abs(decisions.cosines - base.cosines).max())
        rates = " | ".join(
            f"batch {b}: {rate:,.0f} texts/s ({rate / base_speeds[b][0]:.2f}x)"
            for b, (rate, _) in speeds.items()
        )
        cpu = speeds[32][1]
        print(f"{backend:10s} ready in {ready:.1f} s | {rates}")
        print(
            f"{'':10s} CPU {cpu:.2f} ms/text at batch 32 ({cpu / base_speeds[32][1]:.2f}x torch) | "
            f"duplicates found {decisions.found}, missed {decisions.missed}, "
            f"false matches {decisions.false_matches} | {flips} decisions differ from torch, "
            f"max |cosine - torch| {diff:.4f}"
        )
    print(load())


if __name__ == "__main__":
    main()
