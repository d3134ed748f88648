"""Chain of thought: several solutions, a ranking and the best and final answer.

The layout of the seed cards::

    Solution 1:
    <reasoning>
    Final answer: <answer>

    Solution 2: ...

    Ranking of solutions from best to worst:
    1. Solution 1: <why>
    2. Solution 2: <why>

    Best and final answer: <answer>

:func:`canonical_layout` removes the markdown a teacher likes to add to those labels
(``**Solution 1:**``, ``### Final Answer:``); :func:`check_ranked_solutions` parses the
result with the runtime parser (:mod:`airloom.runtime.solutions`) and accepts it only
when it is exactly that shape: at least two solutions numbered from 1, each with a
final answer, a ranking of every solution once, and a best and final answer that
agrees with the top-ranked solution.

Example:
    >>> from airloom.formats.records import make_record
    >>> text = ("Solution 1:\\n2+2 is 4.\\nFinal answer: 4\\n\\nSolution 2:\\nCount.\\n"
    ...         "Final answer: 4\\n\\nRanking of solutions from best to worst:\\n"
    ...         "1. Solution 1: direct\\n2. Solution 2: slower\\n\\nBest and final answer: 4")
    >>> check_ranked_solutions(make_record(response=text))
    Verdict(ok=True, reason='')
    >>> shorter = text.replace("2. Solution 2: slower", "")
    >>> check_ranked_solutions(make_record(response=shorter)).reason
    'the ranking omits solution 2'
"""

from __future__ import annotations

import re

from airloom.checks import Verdict
from airloom.errors import ParseError
from airloom.formats.records import Record
from airloom.runtime.solutions import RankedSolutions, parse_ranked_solutions

__all__ = ["MIN_SOLUTIONS", "canonical_layout", "check_ranked_solutions", "solutions_verdict"]

#: Fewest solutions a cot answer must offer.
MIN_SOLUTIONS = 2

_LABELS = {
    "solution": "Solution",
    "final answer": "Final answer",
    "ranking of solutions from best to worst": "Ranking of solutions from best to worst",
    "best and final answer": "Best and final answer",
}
_LABEL_RE = re.compile(
    r"^\s*(?:#{1,6}\s*)?(?:\*\*|__)?\s*(?P<label>solution\s+(?P<n>\d{1,3})|final answer|"
    r"ranking of solutions from best to worst|best and final answer)\s*(?:\*\*|__)?\s*:"
    r"(?:\s*(?:\*\*|__))*\s*(?P<rest>.*?)(?:\s*(?:\*\*|__))*\s*$",
    re.IGNORECASE,
)


def canonical_layout(text: str) -> str:
    """The text with its labels in the seed-card spelling (markdown around them removed).

    Example:
        >>> print(canonical_layout("**Solution 1:**\\nThink.\\n### Final Answer: **7**"))
        Solution 1:
        Think.
        Final answer: 7
    """
    lines = []
    for line in text.replace("\r\n", "\n").strip().split("\n"):
        match = _LABEL_RE.match(line)
        if match is None:
            lines.append(line.rstrip())
            continue
        label = match.group("label").lower()
        name = f"Solution {int(match.group('n'))}" if match.group("n") else _LABELS[label]
        rest = match.group("rest")
        lines.append(f"{name}: {rest}" if rest else f"{name}:")
    return "\n".join(lines)


def _layout_problem(text: str, parsed: RankedSolutions) -> str | None:
    lines = text.split("\n")
    if "Ranking of solutions from best to worst:" not in lines:
        return "no 'Ranking of solutions from best to worst:' line"
    if not any(line.startswith("Best and final answer: ") for line in lines):
        return "no 'Best and final answer:' line"
    for solution in parsed.solutions:
        if f"Solution {solution.number}:" not in lines:
            return f"solution {solution.number} has no 'Solution {solution.number}:' header line"
    return None


def solutions_verdict(response: str, min_solutions: int = MIN_SOLUTIONS) -> Verdict:
    """Check a response is exactly the ranked-solutions shape (after canonical_layout).

    Example:
        >>> solutions_verdict("Final answer: 3").reason
        "no 'Solution 1:' section found"
    """
    text = canonical_layout(response)
    try:
        parsed = parse_ranked_solutions(text)
    except ParseError as exc:
        return Verdict.failed(exc.message)
    if len(parsed.solutions) < min_solutions:
        return Verdict.failed(
            f"{len(parsed.solutions)} solution(s) given, at least {min_solutions} needed"
        )
    if parsed.flags:
        return Verdict.failed(parsed.flags[0])
    problem = _layout_problem(text, parsed)
    return Verdict.failed(problem) if problem else Verdict.passed()


def check_ranked_solutions(record: Record) -> Verdict:
    """A cot record's response has the seed cards' ranked-solutions shape.

    Example:
        >>> from airloom.formats.records import make_record
        >>> check_ranked_solutions(make_record(response="Solution 1:\\nx\\nFinal answer: 1")).reason
        '1 solution(s) given, at least 2 needed'
    """
    return solutions_verdict(record.response)
