"""Expert routing: embedding router (the original LMoE's), agent router, explicit choice.

The embedding router keeps one exact faiss L2 index per expert over (at most
``max_samples``) embedded routing examples, and scores a request like the original:
the mean of its ``k`` smallest squared L2 distances to each expert's examples; the
lowest score wins. Unlike the original it can refuse to guess: when the best two
experts are within ``margin`` of each other, or the best is farther than
``threshold``, the request goes to the default expert (:func:`decide`).

The agent router asks the ``function`` expert to pick a name from the experts'
descriptions as JSON (:func:`agent_prompt`, :func:`parse_agent_answer`), with the same
fallback when its answer names no known expert.

Example:
    >>> decide({"code": 0.4, "creative": 0.9}, default="general", margin=0.1, threshold=None)
    ('code', 'nearest')
    >>> decide({"code": 0.40, "creative": 0.45}, default="general", margin=0.1, threshold=None)
    ('general', 'margin')
    >>> parse_agent_answer('{"expert": "code"}', ["code", "qa"])
    'code'
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from airloom.errors import ConfigError
from airloom.vectors.embed import Embedder
from airloom.vectors.index import _faiss

__all__ = [
    "AgentRouter",
    "Decision",
    "EmbeddingRouter",
    "agent_prompt",
    "decide",
    "load_routing_texts",
    "log",
    "parse_agent_answer",
    "read_descriptions",
    "routing_text",
]

log = logging.getLogger("airloom.serve.router")


@dataclass(frozen=True)
class Decision:
    """Which expert serves a request, why, the scores behind it and the time it took."""

    expert: str
    reason: str
    seconds: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)


def decide(
    scores: Mapping[str, float], *, default: str, margin: float, threshold: float | None
) -> tuple[str, str]:
    """The expert for a set of scores (lower is nearer), and why (pure).

    Example:
        >>> decide({"a": 1.5}, default="d", margin=0.0, threshold=1.0)
        ('d', 'threshold')
    """
    if not scores:
        return default, "no-routing-data"
    ordered = sorted(scores.items(), key=lambda item: item[1])
    best, best_score = ordered[0]
    if threshold is not None and best_score > threshold:
        return default, "threshold"
    if len(ordered) > 1 and ordered[1][1] - best_score < margin:
        return default, "margin"
    return best, "nearest"


def routing_text(system: str | None, user: str) -> str:
    """What is embedded for a request, as in the routing data: system + " " + instruction.

    Example:
        >>> routing_text("A chat.", "Write a poem"), routing_text(None, "Hi")
        ('A chat. Write a poem', 'Hi')
    """
    return f"{system.strip()} {user}" if system and system.strip() else user


def load_routing_texts(
    directory: Path, experts: Sequence[str], *, max_samples: int, seed: int = 0
) -> dict[str, list[str]]:
    """Per expert, up to ``max_samples`` seeded routing examples from ``routing_data/``.

    Experts without a routing file are left out (they can still be named explicitly).
    """
    texts: dict[str, list[str]] = {}
    for expert in experts:
        path = directory / "routing_data" / f"expert_{expert}.jsonl"
        if not path.is_file():
            continue
        rows: list[str] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(str(json.loads(line)["instruction"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(
                    f"{path} line {number} is not a routing row ({exc})",
                    hint='each line must be {"instruction": "..."}; '
                    "rewrite it with `airloom experts split`",
                ) from exc
        if len(rows) > max_samples:
            rows = random.Random(f"{seed}:{expert}").sample(rows, max_samples)
        if rows:
            texts[expert] = rows
    return texts


class EmbeddingRouter:
    """The original's router plus a margin and a threshold (see the module docstring)."""

    def __init__(
        self,
        texts: Mapping[str, Sequence[str]],
        embedder: Embedder,
        *,
        default: str,
        k: int = 20,
        margin: float = 0.0,
        threshold: float | None = None,
    ) -> None:
        faiss = _faiss()
        self.embedder = embedder
        self.default = default
        self.k = k
        self.margin = margin
        self.threshold = threshold
        self._indexes: dict[str, Any] = {}
        for expert, rows in texts.items():
            vectors = np.ascontiguousarray(embedder.encode(list(rows)), dtype=np.float32)
            index = faiss.IndexFlatL2(vectors.shape[1])
            index.add(vectors)
            self._indexes[expert] = index

    @property
    def experts(self) -> list[str]:
        """The experts that have routing data."""
        return list(self._indexes)

    def scores(self, text: str) -> dict[str, float]:
        """Mean of the ``k`` smallest squared L2 distances per expert (lower is nearer)."""
        query = np.ascontiguousarray(self.embedder.encode([text]), dtype=np.float32)
        out: dict[str, float] = {}
        for expert, index in self._indexes.items():
            distances, _ = index.search(query, min(self.k, int(index.ntotal)))
            out[expert] = round(float(distances[0].mean()), 6)
        return out

    def route(self, text: str) -> Decision:
        """Choose the expert for a request text, and log the decision with its scores."""
        started = time.perf_counter()
        scores = self.scores(text)
        expert, reason = decide(
            scores, default=self.default, margin=self.margin, threshold=self.threshold
        )
        decision = Decision(expert, reason, time.perf_counter() - started, scores)
        log.info(
            "routed to %s (%s) in %.1f ms; scores %s",
            expert,
            reason,
            decision.seconds * 1000,
            scores,
        )
        return decision


def agent_prompt(descriptions: Mapping[str, str], request: str) -> str:
    """The instruction that asks the function expert to choose an expert, as JSON.

    Example:
        >>> print(agent_prompt({"code": "Writes code."}, "Sort a list"))  # doctest: +ELLIPSIS
        As an AI assistant, choose the best function ...
    """
    listing = "\n".join(
        f"{name}:\n  description: {text.strip()}" for name, text in descriptions.items()
    )
    return (
        "As an AI assistant, choose the best function from the list below to answer the "
        'user\'s request. Answer with JSON only, in the form {"expert": "NAME"}.\n\n'
        f"Available functions:\n{listing}\n\nInput: {request}"
    )


_JSON_OBJECT = re.compile(r"\{[^{}]*\}")


def parse_agent_answer(answer: str, experts: Sequence[str]) -> str | None:
    """The expert an agent answer names (``expert`` or the original's ``function``), or None.

    Example:
        >>> parse_agent_answer('Sure: {"function": "qa"}', ["qa"]), parse_agent_answer("?", ["qa"])
        ('qa', None)
    """
    for match in _JSON_OBJECT.finditer(answer):
        try:
            data = json.loads(match.group(0))
        except ValueError:
            continue
        if isinstance(data, dict):
            name = data.get("expert", data.get("function"))
            if isinstance(name, str) and name.strip() in experts:
                return name.strip()
    return None


class AgentRouter:
    """Asks one expert (``function`` by default) to pick the expert, with a fallback."""

    def __init__(
        self,
        ask: Callable[[str], Awaitable[str]],
        descriptions: Mapping[str, str],
        *,
        default: str,
    ) -> None:
        self.ask = ask
        self.descriptions = dict(descriptions)
        self.default = default

    async def route(self, text: str) -> Decision:
        """Ask, parse, fall back to the default expert on an answer naming no expert."""
        started = time.perf_counter()
        answer = await self.ask(agent_prompt(self.descriptions, text))
        chosen = parse_agent_answer(answer, list(self.descriptions))
        expert, reason = (chosen, "agent") if chosen else (self.default, "agent-fallback")
        decision = Decision(expert, reason, time.perf_counter() - started)
        log.info("agent routed to %s (%s); answer %r", expert, reason, answer[:200])
        return decision


def read_descriptions(folders: Mapping[str, Path]) -> dict[str, str]:
    """Each expert's ``description.txt`` (its name when it has none)."""
    out: dict[str, str] = {}
    for name, folder in folders.items():
        path = folder / "description.txt"
        out[name] = path.read_text(encoding="utf-8").strip() if path.is_file() else name
    return out
