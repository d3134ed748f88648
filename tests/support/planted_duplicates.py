"""A planted near-duplicate set: instruction pairs that are the same request reworded
(paraphrase, reordering, small edits) and pairs of different requests on the same topic.

Built from templates with a fixed seed (nothing downloaded); used by the embedder
agreement test and ``benchmarks/embedder.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

TOPICS = [
    "the water cycle",
    "binary search",
    "photosynthesis",
    "the French Revolution",
    "compound interest",
    "black holes",
    "sourdough bread",
    "the immune system",
    "TCP handshakes",
    "climate change",
    "the Roman Empire",
    "machine learning",
    "volcanoes",
    "the stock market",
    "plate tectonics",
    "vaccines",
    "jazz music",
    "electric cars",
    "the human heart",
    "quantum computing",
    "coral reefs",
    "the printing press",
    "recursion in programming",
    "honey bees",
    "solar panels",
    "the Silk Road",
    "sleep and memory",
    "inflation",
    "the moon landing",
    "chess openings",
    "garbage collection",
    "the Great Wall of China",
    "earthquakes",
    "antibiotics",
    "renewable energy",
    "the Renaissance",
    "hash tables",
    "migrating birds",
    "the theory of evolution",
    "public key cryptography",
]

# (request, paraphrase of the same request, reordered form of the same request)
TASKS = [
    (
        "Explain {t} to a ten-year-old in simple words.",
        "Describe {t} to a child of ten using simple language.",
        "In simple words, explain {t} to a ten-year-old.",
    ),
    (
        "Write a short poem about {t}.",
        "Compose a brief poem about {t}.",
        "About {t}, write a short poem.",
    ),
    (
        "List five surprising facts about {t}.",
        "Give me five surprising facts regarding {t}.",
        "Five surprising facts about {t}: list them.",
    ),
    (
        "Write a multiple-choice quiz with three questions about {t}.",
        "Create a three-question multiple-choice quiz on {t}.",
        "About {t}, write a multiple-choice quiz with three questions.",
    ),
    (
        "Summarize the history of {t} in one paragraph.",
        "Give a one-paragraph summary of the history of {t}.",
        "In one paragraph, summarize the history of {t}.",
    ),
    (
        "What are the most common misconceptions about {t}, and why are they wrong?",
        "Which misconceptions about {t} are most common, and why are they mistaken?",
        "Why are the most common misconceptions about {t} wrong, and what are they?",
    ),
    (
        "Write a dialogue between a teacher and a student discussing {t}.",
        "Create a conversation in which a teacher and a student talk about {t}.",
        "Discussing {t}, write a dialogue between a student and a teacher.",
    ),
]

EDITS = [
    lambda s: "Please " + s[0].lower() + s[1:],
    lambda s: s.replace("five", "six").replace("three", "four"),
    lambda s: s.rstrip(".?") + ", please.",
    lambda s: s.replace(" the ", " teh ", 1) if " the " in s else s + " Thanks!",
]


@dataclass(frozen=True)
class PlantedPair:
    """Two texts; ``duplicate`` when they ask for the same thing; ``kind`` says how made."""

    first: str
    second: str
    duplicate: bool
    kind: str


def planted_pairs(seed: int = 15) -> list[PlantedPair]:
    """Per topic: one paraphrase, one reordering, one small edit and one paraphrase with
    an edit of a request (duplicates), and three different requests on the topic
    (not duplicates): 280 pairs."""
    rng = random.Random(seed)
    pairs: list[PlantedPair] = []
    for topic in TOPICS:
        tasks = rng.sample(TASKS, 7)
        a, b, c, d = (tuple(x.format(t=topic) for x in task) for task in tasks[:4])
        pairs.append(PlantedPair(a[0], a[1], True, "paraphrase"))
        pairs.append(PlantedPair(b[0], b[2], True, "reordering"))
        pairs.append(PlantedPair(c[0], rng.choice(EDITS)(c[0]), True, "small edit"))
        pairs.append(PlantedPair(d[0], rng.choice(EDITS)(d[1]), True, "paraphrase + edit"))
        for first, second in ((tasks[4], tasks[5]), (tasks[5], tasks[6]), (tasks[4], tasks[6])):
            pairs.append(
                PlantedPair(
                    first[0].format(t=topic), second[0].format(t=topic), False, "same topic"
                )
            )
    return pairs


@dataclass(frozen=True)
class Decisions:
    """What one embedder decides on the planted pairs at one threshold."""

    cosines: np.ndarray
    matched: np.ndarray
    found: int
    missed: int
    false_matches: int


def decide(encode: object, pairs: list[PlantedPair], threshold: float) -> Decisions:
    """Cosine of each pair under ``encode`` (texts -> unit rows) and the dedup decisions."""
    assert callable(encode)
    first = encode([p.first for p in pairs])
    second = encode([p.second for p in pairs])
    cosines = (first * second).sum(axis=1)
    matched = cosines >= threshold
    truth = np.array([p.duplicate for p in pairs])
    return Decisions(
        cosines=cosines,
        matched=matched,
        found=int((matched & truth).sum()),
        missed=int((~matched & truth).sum()),
        false_matches=int((matched & ~truth).sum()),
    )
