"""LMoE segmentation: one training set, routing set and description per expert.

The original airoboros LMoE has six experts, each a group of categories
(:data:`DEFAULT_EXPERTS`). Each expert's training data is its own categories' records
plus a seeded sample of every other category — ``min(max_cross, floor(cross_fraction
× n))`` records of a category with ``n`` records — so that a misrouted request still
meets an adapter that has seen its kind. A category no expert lists goes to
``default_expert``. The routing data of an expert is ``{"instruction": system + " " +
instruction}`` for each of its own records.

Layout written by :func:`split_experts` (and loaded by the server)::

    DIR/experts.json                      the map, seed and counts
    DIR/training_data/expert_<name>.jsonl ShareGPT rows (system and turns kept)
    DIR/routing_data/expert_<name>.jsonl  {"instruction": ...} per own record
    DIR/adapters/<name>/description.txt   what the expert is for (``train --experts``
                                          puts the adapter beside it)

Example:
    >>> plan = expert_plan({"coding": 30, "trivia": 20, "joke": 5}, DEFAULT_EXPERTS)
    >>> plan["code"]
    {'coding': 30, 'trivia': 2, 'joke': 0}
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from airloom.errors import TrainError
from airloom.export.writers import write_dataset, write_lines_atomic
from airloom.formats.records import Record
from airloom.train.data import load_records

__all__ = [
    "DEFAULT_DESCRIPTIONS",
    "DEFAULT_EXPERTS",
    "ExpertSplit",
    "cross_count",
    "expert_names",
    "expert_of",
    "expert_plan",
    "routing_row",
    "split_experts",
]

DEFAULT_EXPERTS: dict[str, list[str]] = {
    "qa": ["quiz", "multiple_choice", "contextual", "counterfactual_contextual"],
    "creative": [
        "card",
        "writing",
        "experience",
        "song",
        "roleplay",
        "gtkm",
        "rp",
        "detailed_writing",
        "joke",
    ],
    "code": ["coding"],
    "reasoning": ["cot", "theory_of_mind", "riddle", "orca"],
    "function": ["agent", "plan"],
    "general": ["wordgame", "trivia", "general"],
}

DEFAULT_DESCRIPTIONS: dict[str, str] = {
    "qa": "Answers questions about given text (closed-context QA, quizzes, multiple choice).",
    "creative": "Creative writing: stories, poems, songs, jokes, role-play and character chat.",
    "code": "Writes, explains and fixes code.",
    "reasoning": "Step-by-step reasoning, riddles, math word problems, theory of mind.",
    "function": "Picks functions and writes tool plans (function calling, reWOO plans).",
    "general": "General knowledge, trivia, word games and everything else.",
}


@dataclass
class ExpertSplit:
    """What :func:`split_experts` wrote: per expert, records by category and routing rows."""

    directory: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    routing: dict[str, int] = field(default_factory=dict)
    seed: int = 0

    def total(self, expert: str) -> int:
        """Training records of one expert."""
        return sum(self.counts.get(expert, {}).values())


def expert_of(experts: Mapping[str, Sequence[str]], default_expert: str) -> dict[str, str]:
    """category → expert; a category listed twice is an error.

    Example:
        >>> expert_of({"a": ["x"], "b": ["y"]}, "a")["y"]
        'b'
    """
    owner: dict[str, str] = {}
    for expert, categories in experts.items():
        for category in categories:
            if category in owner:
                raise TrainError(
                    f"category '{category}' is in two experts ({owner[category]}, {expert})",
                    hint="list each category under one expert only",
                )
            owner[category] = expert
    if default_expert not in experts:
        raise TrainError(
            f"default expert '{default_expert}' is not one of {', '.join(experts)}",
            hint="name one of the experts as the default",
        )
    return owner


def cross_count(n: int, fraction: float, max_cross: int) -> int:
    """Records of another expert's category sampled into an expert: min(max, floor(f·n)).

    Example:
        >>> cross_count(20, 0.1, 500), cross_count(10_000, 0.1, 500), cross_count(9, 0.1, 500)
        (2, 500, 0)
    """
    return min(max_cross, int(n * fraction + 1e-9))


def expert_plan(
    category_counts: Mapping[str, int],
    experts: Mapping[str, Sequence[str]],
    *,
    default_expert: str = "general",
    cross_fraction: float = 0.1,
    max_cross: int = 500,
) -> dict[str, dict[str, int]]:
    """Per expert, how many records of each category its training set gets (pure)."""
    owner = expert_of(experts, default_expert)
    plan: dict[str, dict[str, int]] = {name: {} for name in experts}
    for category, n in category_counts.items():
        home = owner.get(category, default_expert)
        for expert in experts:
            plan[expert][category] = (
                n if expert == home else cross_count(n, cross_fraction, max_cross)
            )
    return plan


def routing_row(record: Record) -> dict[str, str]:
    """The routing example of a record: its system prompt and instruction, space-joined.

    Example:
        >>> from airloom.formats.records import make_record
        >>> routing_row(make_record("general", "Hi", "Yo", system="A chat."))
        {'instruction': 'A chat. Hi'}
    """
    system = (record.system or "").strip()
    instruction = record.instruction
    return {"instruction": f"{system} {instruction}" if system else instruction}


def split_experts(
    sources: Sequence[str],
    directory: Path,
    *,
    experts: Mapping[str, Sequence[str]] | None = None,
    descriptions: Mapping[str, str] | None = None,
    default_expert: str = "general",
    cross_fraction: float = 0.1,
    max_cross: int = 500,
    seed: int = 0,
) -> ExpertSplit:
    """Write the LMoE layout for the records of ``sources`` into ``directory``."""
    experts = dict(experts or DEFAULT_EXPERTS)
    descriptions = {**DEFAULT_DESCRIPTIONS, **(descriptions or {})}
    records, _ = load_records(sources)
    if not records:
        raise TrainError(
            f"no records in {', '.join(sources)}", hint="give a store or dataset with records"
        )
    by_category: dict[str, list[Record]] = {}
    for record in records:
        by_category.setdefault(record.category, []).append(record)
    counts = Counter({category: len(rows) for category, rows in by_category.items()})
    plan = expert_plan(
        counts,
        experts,
        default_expert=default_expert,
        cross_fraction=cross_fraction,
        max_cross=max_cross,
    )
    owner = expert_of(experts, default_expert)
    split = ExpertSplit(str(directory), seed=seed)
    for expert in experts:
        rng = random.Random(f"{seed}:{expert}")
        chosen: list[Record] = []
        for category in sorted(by_category):
            rows, wanted = by_category[category], plan[expert][category]
            chosen.extend(rows if wanted == len(rows) else rng.sample(rows, wanted))
        own = [r for r in records if owner.get(r.category, default_expert) == expert]
        split.counts[expert] = {c: n for c, n in plan[expert].items() if n}
        split.routing[expert] = len(own)
        write_dataset(chosen, directory / "training_data" / f"expert_{expert}.jsonl", "sharegpt")
        write_lines_atomic(
            directory / "routing_data" / f"expert_{expert}.jsonl",
            (json.dumps(routing_row(r), ensure_ascii=False) for r in own),
        )
        adapter_dir = directory / "adapters" / expert
        adapter_dir.mkdir(parents=True, exist_ok=True)
        description = descriptions.get(expert) or f"Expert for {', '.join(experts[expert])}."
        (adapter_dir / "description.txt").write_text(description + "\n", encoding="utf-8")
    manifest = {
        "experts": experts,
        "default_expert": default_expert,
        "cross_fraction": cross_fraction,
        "max_cross": max_cross,
        "seed": seed,
        "sources": list(sources),
        "counts": split.counts,
        "routing": split.routing,
    }
    write_lines_atomic(directory / "experts.json", [json.dumps(manifest, indent=1)])
    return split


def expert_names(directory: Path) -> list[str]:
    """The experts of a split folder, with a clear error when it is not one."""
    manifest = directory / "experts.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        names = list(data["experts"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainError(
            f"{directory} is not an experts folder ({manifest.name} is missing or unreadable)",
            hint="make one with `airloom experts split`",
        ) from exc
    return names
