"""Cost of the hardening: the code sandbox per run, and the store's integrity check.

* ``sandbox``: median wall time of one ``print(1)`` Python run in the bubblewrap sandbox
  and with ``--unsafe-no-sandbox`` (resource limits only), and their ratio;
* ``store``: median time of ``Store.open`` (which runs ``PRAGMA quick_check``) on a store
  of N records, and of the check alone.

    python benchmarks/hardening.py                       # both, N = 20,000
    python benchmarks/hardening.py --only sandbox --repeat 30
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from airloom.curate.sandbox import Limits, isolation_layers, run_python
from airloom.formats.records import Record, dedup_key, record_id
from airloom.store.database import Store, check_integrity


def _median(function: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def sandbox(repeat: int) -> None:
    """Per-run overhead of the sandbox."""
    jailed = _median(lambda: run_python("print(1)"), repeat)
    unsafe = _median(lambda: run_python("print(1)", Limits(unsafe_no_sandbox=True)), repeat)
    print(f"sandbox layers: {', '.join(isolation_layers())}")
    print(f"python run, sandboxed: median {jailed * 1000:.1f} ms")
    print(f"python run, unsafe:    median {unsafe * 1000:.1f} ms")
    print(f"ratio sandboxed/unsafe: {jailed / unsafe:.2f}")


def store(records: int, repeat: int) -> None:
    """Open time of a store with its integrity check."""
    folder = Path(tempfile.mkdtemp())
    path = folder / "bench.airloom.db"
    rng = np.random.default_rng(0)
    batch = [
        Record(
            id=record_id("general", f"q{n}", "a " * 100),
            category="general",
            unit=str(n),
            instruction=f"q{n}",
            response="a " * 100,
            dedup_key=dedup_key(f"q{n}"),
            embedding=rng.standard_normal(384).astype(np.float32),
        )
        for n in range(records)
    ]
    with Store.open(path, embedding_model="hashing") as opened:
        opened.commit_batch(batch)
    size = path.stat().st_size >> 20
    check = _median(lambda: check_integrity(path), repeat)
    whole = _median(lambda: Store.open(path, create=False, read_only=True).close(), repeat)
    print(f"store of {records:,} records ({size} MiB)")
    print(f"quick_check: median {check * 1000:.1f} ms")
    print(f"Store.open (with the check): median {whole * 1000:.1f} ms")
    print(f"check share of open: {check / whole:.2f}")


def main() -> None:
    """Run the chosen benchmarks."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["sandbox", "store"])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    if args.only in (None, "sandbox"):
        sandbox(args.repeat)
    if args.only in (None, "store"):
        store(args.records, args.repeat)


if __name__ == "__main__":
    main()
