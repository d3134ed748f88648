"""Measure `airloom train` on the embedded 0.5B model: tokens/s, packing, peak memory.

Each configuration runs in a fresh process (so peak memory is its own) for a few
optimiser steps on synthetic airoboros records of mixed length, and reports:

* tokens/s: non-padding input tokens per second of training (the trainer's count),
  and assistant (trained) tokens per second;
* packing on vs off: the tokens/s ratio (padding-free packing wastes no compute on pads);
* LoRA vs QLoRA: peak resident memory of the process (ru_maxrss) and their ratio.

Where CUDA is available the same runs use the GPU (peak memory then also reports
``torch.cuda.max_memory_allocated``).

Run:
    PYTHONPATH=src python benchmarks/train.py                # LoRA, LoRA+packing, QLoRA
    PYTHONPATH=src python benchmarks/train.py --steps 8 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIGS = {
    "lora": {"method": "lora", "packing": False},
    "lora+packing": {"method": "lora", "packing": True},
    "qlora": {"method": "qlora", "packing": False},
}


def write_data(path: Path, count: int = 64, seed: int = 0) -> None:
    rng = random.Random(seed)
    words = [
        "the",
        "a",
        "river",
        "volcano",
        "code",
        "list",
        "sort",
        "explain",
        "why",
        "how",
        "light",
        "keeper",
        "map",
        "data",
    ]
    rows = []
    for index in range(count):
        question = " ".join(rng.choice(words) for _ in range(rng.randint(5, 40)))
        answer = " ".join(rng.choice(words) for _ in range(rng.randint(10, 200)))
        rows.append({"id": f"b{index}", "category": "general", "instruction": question + "?",
                     "response": answer + "."})  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def child(spec: dict) -> None:
    from airloom.train.config import TrainConfig
    from airloom.train.trainer import TrainProgress, train

    rates: list[float] = []

    def report(event: object) -> None:
        if isinstance(event, TrainProgress) and event.step > 0:
            rates.append(event.tokens_per_second)

    result = train(TrainConfig(**spec), report)
    out = {
        "tokens_per_second": rates[-1] if rates else 0.0,
        "trained_share": result.trained_tokens / max(result.data.tokens, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds": result.seconds,
    }
    try:
        import torch

        if torch.cuda.is_available():
            out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    except ImportError:
        pass
    print("RESULT " + json.dumps(out))


def run_one(name: str, spec: dict) -> dict:
    env = {**os.environ}
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True, text=True, env=env, timeout=3600,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1][7:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    load = os.getloadavg()
    print(
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cpus"
    )
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.jsonl"
        write_data(data)
        for run in range(args.runs):
            for name, extra in CONFIGS.items():
                spec = {
                    "data": [str(data)], "output_dir": str(Path(folder) / f"{name}-{run}"),
                    "max_steps": args.steps, "batch_size": args.batch_size,
                    "max_length": args.max_length, "eval_fraction": 0, "save_steps": 10_000,
                    "lora": {"r": 16}, **extra,
                }  # fmt: skip
                results.setdefault(name, []).append(run_one(name, spec))
    medians = {}
    for name, runs in results.items():
        rate = statistics.median(r["tokens_per_second"] for r in runs)
        share = statistics.median(r["trained_share"] for r in runs)
        rss = statistics.median(r["peak_rss_mb"] for r in runs)
        medians[name] = {"rate": rate, "rss": rss}
        extra = ""
        if "cuda_peak_mb" in runs[0]:
            extra = f"  cuda peak {statistics.median(r['cuda_peak_mb'] for r in runs):,.0f} MB"
        print(
            f"{name:14s} {rate:8.1f} tokens/s  {rate * share:7.1f} trained tokens/s  "
            f"peak RSS {rss:,.0f} MB{extra}"
        )
    packing = medians["lora+packing"]["rate"] / max(medians["lora"]["rate"], 1e-9)
    memory = medians["qlora"]["rss"] / max(medians["lora"]["rss"], 1e-9)
    print(f"packing on / off tokens/s: {packing:.2f}x")
    print(f"QLoRA / LoRA peak memory: {memory:.2f}x")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
