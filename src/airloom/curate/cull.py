"""Cull: keep the best-judged record of each near-duplicate cluster, drop the rest.

Given every record's judge verdict and the near-duplicate clusters (union-find over
the similarity graph, :mod:`airloom.curate.cluster`), a cluster keeps its passing
record with the highest score (GOOD without a score counts as 100); a tie goes to the
earliest record, never to the longest. Records judged BAD, records whose verdict is an
error, and the other members of a cluster are dropped, each with its reason. The kept
records come out in input order, so output never depends on scheduling.

Example:
    >>> from airloom.curate.ledger import Verdict
    >>> verdicts = [Verdict("judge", "h", "m", "a", "g", "good", 80.0),
    ...             Verdict("judge", "h", "m", "b", "g", "good", 95.0),
    ...             Verdict("judge", "h", "m", "c", "g", "bad", 10.0)]
    >>> decisions = decide([0, 0, 2], verdicts)
    >>> [(d.kept, d.reason) for d in decisions]
    [(False, 'near-duplicate of #1 (judged better)'), (True, 'kept'), \
(False, 'judged bad (score 10)')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airloom.curate.ledger import Verdict

__all__ = ["Decision", "decide", "summarise"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What cull decided for one record (``index`` is its input position)."""

    index: int
    kept: bool
    reason: str
    cluster: int
    score: float | None = None
    duplicate_of: int | None = None


def _score(verdict: Verdict) -> float:
    return 100.0 if verdict.score is None else verdict.score


def _why_not(verdict: Verdict | None) -> str:
    if verdict is None:
        return "not judged"
    if verdict.status == "error":
        return f"judge error: {verdict.reason}"
    score = "" if verdict.score is None else f" (score {verdict.score:g})"
    return f"judged bad{score}"


def decide(clusters: Sequence[int], verdicts: Sequence[Verdict | None]) -> list[Decision]:
    """One decision per record from its cluster label and its verdict (module docstring).

    ``None`` verdicts (not judged) are never kept.
    """
    best: dict[int, int] = {}
    for index, (cluster, verdict) in enumerate(zip(clusters, verdicts, strict=True)):
        if verdict is None or not verdict.passed:
            continue
        holder = best.get(cluster)
        held = verdicts[holder] if holder is not None else None
        if holder is None or held is None or _score(verdict) > _score(held):
            best[cluster] = index
    decisions = []
    for index, (cluster, verdict) in enumerate(zip(clusters, verdicts, strict=True)):
        score = None if verdict is None else verdict.score
        if verdict is None or not verdict.passed:
            decisions.append(Decision(index, False, _why_not(verdict), cluster, score))
        elif best[cluster] == index:
            decisions.append(Decision(index, True, "kept", cluster, score))
        else:
            keeper = best[cluster]
            decisions.append(
                Decision(
                    index,
                    False,
                    f"near-duplicate of #{keeper} (judged better)"
                    if _score(verdict) < _score(verdicts[keeper])  # type: ignore[arg-type]
                    else f"near-duplicate of #{keeper} (judged as good, earlier)",
                    cluster,
                    score,
                    duplicate_of=keeper,
                )
            )
    return decisions


def summarise(decisions: Sequence[Decision]) -> dict[str, int]:
    """Counts of kept records and of each kind of drop.

    Example:
        >>> summarise([Decision(0, True, "kept", 0), Decision(1, False, "judged bad", 1)])
        {'kept': 1, 'judged bad': 1}
    """
    counts: dict[str, int] = {}
    for decision in decisions:
        kind = decision.reason.split(" (")[0].split(":")[0]
        if kind.startswith("near-duplicate"):
            kind = "near-duplicate"
        counts[kind] = counts.get(kind, 0) + 1
    return counts
