"""Time README step 1 on this machine: visible progress, the first record, a Ctrl-C.

In a fresh folder: ``airloom config example > config.yaml`` and ``airloom generate
--config config.yaml``; measures when the first line appears on the terminal (stderr),
when the first record is in the store, and — after a SIGINT at that moment — how long
the stop takes. Beside wall time it records the CPU seconds the command has used at
each point: on a shared machine wall time says little, and CPU seconds / cores
estimates the wall time of an idle machine. ``--fresh-cache`` uses an empty model
cache, so the one-time model preparation (assembling and converting) is part of the
time. Prints the median of the runs and the machine's load average (the machine may be
shared: say so with the figures).

Run:
    PYTHONPATH=src python benchmarks/quick_start.py                 # prepared model cache
    PYTHONPATH=src python benchmarks/quick_start.py --fresh-cache   # first run ever
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def first_record_count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    except sqlite3.Error:
        return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(folder: Path, env: dict[str, str], limit: float) -> dict[str, float]:
    config = subprocess.run(
        [sys.executable, "-m", "airloom", "config", "example"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    (folder / "config.yaml").write_text(config.stdout)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airloom", "generate", "--config", "config.yaml"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: dict[str, float] = {}
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "first_output_s" not in seen:
                seen["first_output_s"] = time.monotonic() - started
                seen["first_output_cpu_s"] = cpu_seconds(proc.pid)
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    db = folder / "instructions.airloom.db"
    while proc.poll() is None and time.monotonic() - started < limit:
        if first_record_count(db) > 0:
            seen["first_record_s"] = time.monotonic() - started
            seen["first_record_cpu_s"] = cpu_seconds(proc.pid)
            break
        time.sleep(0.5)
    stop = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    seen["stop_s"] = time.monotonic() - stop
    reader.join(timeout=5)
    text = "".join(lines)
    seen["traceback"] = float("Traceback" in text)
    print(text[-1500:], file=sys.stderr)
    return seen


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--fresh-cache", action="store_true")
    parser.add_argument("--limit", type=float, default=900.0, help="Give up after this long.")
    args = parser.parse_args()
    results = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ)
            if args.fresh_cache:
                env["AIRLOOM_CACHE"] = cache
            before = load_average()
            result = one_run(Path(work), env, args.limit)
            print(f"run {index + 1}: {result} (load average {before} -> {load_average()})")
            results.append(result)
    keys = ("first_output_s", "first_output_cpu_s", "first_record_s", "first_record_cpu_s")
    for key in (*keys, "stop_s"):
        values = [r[key] for r in results if key in r]
        if values:
            print(f"median {key}: {statistics.median(values):.1f} ({len(values)} runs)")
        else:
            print(f"median {key}: not reached within {args.limit:.0f} s")
    cores = len(os.sched_getaffinity(0))
    print(f"cores: {cores}; load average now {load_average()}")
    cpu = [r["first_record_cpu_s"] for r in results if "first_record_cpu_s" in r]
    if cpu:
        print(f"idle-machine estimate of the first record: {statistics.median(cpu) / cores:.0f} s")


if __name__ == "__main__":
    main()
