"""Self-distillation, step 2b: rewrite kept plan records in the canonical plan layout.

Usage: python examples/self-distill/canonicalise.py kept.jsonl train.jsonl

A tolerant parser accepted the teacher's plans (``#E1``, bold markers, ``Final answer:``);
the training records get the exact layout the model cards document instead. Function
calls and closed-context records are already stored canonically by their instructors.
Prints how many records were kept, rewritten and dropped (with the reason).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from airloom.errors import PlanError
from airloom.runtime.rewoo.canonical import canonical_plan


def main(source: Path, target: Path) -> None:
    counts: Counter[str] = Counter()
    with source.open(encoding="utf-8") as reader, target.open("w", encoding="utf-8") as out:
        for line in reader:
            if not line.strip():
                continue
            record = json.loads(line)
            if record.get("category") == "plan":
                try:
                    canonical = canonical_plan(record["response"])
                except PlanError as exc:
                    counts[f"dropped: {exc.message}"] += 1
                    continue
                if canonical != record["response"].strip():
                    counts["plan rewritten canonically"] += 1
                record["response"] = canonical
            counts[f"kept {record.get('category', '?')}"] += 1
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    for reason, number in sorted(counts.items()):
        print(f"{number:6d}  {reason}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: canonicalise.py KEPT.jsonl TRAIN.jsonl")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
