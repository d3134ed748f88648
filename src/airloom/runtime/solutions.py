"""Ranked solutions: "Solution 1: ... Final answer: ...", a ranking, the best answer.

The layout the models were trained on::

    Solution 1:
    <reasoning>
    Final answer: <answer>

    Solution 2:
    ...
    Ranking of solutions from best to worst:
    1. Solution 2: <justification>
    2. Solution 1: <justification>

    Best and final answer: <answer>

:func:`parse_ranked_solutions` tolerates markdown bold and headings, ``Solution 1 -``,
``Final Answer``, "Answer 2:" / "Option 2:" headers, bullets in the ranking and a
missing best line, and reports what it had to assume in ``flags``. It raises
:class:`airloom.errors.ParseError` only when no solution or no answer at all is found.

Example:
    >>> result = parse_ranked_solutions(
    ...     "Solution 1:\\nGuess.\\nFinal answer: 9\\n\\nSolution 2:\\nn(n-1)/2 = 45.\\n"
    ...     "Final answer: 10\\n\\nRanking of solutions from best to worst:\\n"
    ...     "1. Solution 2: algebra\\n2. Solution 1: a guess\\n\\nBest and final answer: 10")
    >>> result.best_answer, result.best_solution.number, result.flags
    ('10', 2, [])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from airloom.errors import ParseError

__all__ = ["RankedEntry", "RankedSolutions", "Solution", "parse_ranked_solutions"]

_MARK = r"(?:\*\*|__)?"
_NOUNS = r"(?:solution|answer|option|approach|possibility|response)"
_SOLUTION_RE = re.compile(
    rf"^\s*(?:#+\s*)?{_MARK}\s*{_NOUNS}\s*#?\s*(\d{{1,3}})\s*{_MARK}\s*(?:[:.)\-–—]|$)"
    rf"\s*{_MARK}\s*(.*)$",
    re.IGNORECASE,
)
_RANKING_RE = re.compile(
    rf"^\s*(?:#+\s*)?{_MARK}\s*rank(?:ing|ed)?\b[^:\n]{{0,60}}?{_MARK}\s*:?\s*{_MARK}\s*$",
    re.IGNORECASE,
)
_RANK_ENTRY_RE = re.compile(
    rf"^\s*(?:(\d{{1,3}})\s*[.):]|[-*•])\s*{_MARK}\s*{_NOUNS}\s*#?\s*(\d{{1,3}})\s*{_MARK}"
    rf"\s*[:.)\-–—]?\s*{_MARK}\s*(.*)$",
    re.IGNORECASE,
)
_BEST_RE = re.compile(
    rf"^\s*(?:#+\s*)?{_MARK}\s*(?:best\s+and\s+final|final\s+and\s+best|best\s+final|"
    rf"final\s+best|best)\s+answer\s*{_MARK}\s*:\s*{_MARK}\s*(.*)$",
    re.IGNORECASE,
)
_FINAL_RE = re.compile(
    rf"^\s*{_MARK}\s*final\s+answer\s*{_MARK}\s*:\s*{_MARK}\s*(.*)$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Solution:
    """One numbered solution: its reasoning and the answer it concluded (if any)."""

    number: int
    reasoning: str
    final_answer: str | None


@dataclass(frozen=True, slots=True)
class RankedEntry:
    """One line of the ranking: place (1 is best), solution number, justification."""

    place: int
    solution: int
    justification: str


@dataclass(slots=True)
class RankedSolutions:
    """The whole answer; ``flags`` lists every inconsistency or assumption."""

    solutions: list[Solution]
    ranking: list[RankedEntry]
    best_answer: str
    flags: list[str] = field(default_factory=list)

    def solution(self, number: int) -> Solution | None:
        """The solution with that number, if present.

        Example:
            >>> RankedSolutions([Solution(1, "r", "a")], [], "a").solution(1).final_answer
            'a'
        """
        return next((item for item in self.solutions if item.number == number), None)

    @property
    def best_solution(self) -> Solution | None:
        """The top-ranked solution (or None when there is no usable ranking).

        Example:
            >>> RankedSolutions([Solution(1, "", "a"), Solution(2, "", "b")],
            ...                 [RankedEntry(1, 2, "better")], "b").best_solution.number
            2
        """
        return self.solution(self.ranking[0].solution) if self.ranking else None


def _clean(text: str) -> str:
    text = text.strip()
    for mark in ("**", "__"):
        if text.startswith(mark) and text.endswith(mark) and len(text) > 4:
            text = text[2:-2].strip()
        text = text.removesuffix(mark).removeprefix(mark).strip()
    return text


def _block(lines: list[str], first: str) -> str:
    """A labelled value: the rest of its line, then following lines up to a blank one."""
    parts = [first.strip()] if first.strip() else []
    for line in lines:
        if not line.strip():
            if parts:
                break
            continue
        parts.append(line.strip())
    return _clean("\n".join(parts))


def _parse_solution(number: int, lines: list[str]) -> Solution:
    finals = [i for i, line in enumerate(lines) if _FINAL_RE.match(line)]
    if not finals:
        return Solution(number, "\n".join(lines).strip(), None)
    at = finals[-1]
    match = _FINAL_RE.match(lines[at])
    answer = _block(lines[at + 1 :], match.group(1) if match else "")
    return Solution(number, "\n".join(lines[:at]).strip(), answer or None)


def _split_sections(lines: list[str]) -> tuple[list[tuple[int, list[str]]], int, int]:
    """Solution sections, and the line indexes of the ranking and best headers (or -1)."""
    sections: list[tuple[int, list[str]]] = []
    ranking_at = best_at = -1
    for index, line in enumerate(lines):
        if ranking_at < 0 and best_at < 0:
            solution = _SOLUTION_RE.match(line)
            if solution and not _FINAL_RE.match(line):
                sections.append((int(solution.group(1)), [solution.group(2)]))
                continue
        if _RANKING_RE.match(line) and ranking_at < 0:
            ranking_at = index
        elif _BEST_RE.match(line):
            best_at = index
        elif sections and ranking_at < 0 and best_at < 0:
            sections[-1][1].append(line)
    return sections, ranking_at, best_at


def _parse_ranking(lines: list[str]) -> list[RankedEntry]:
    entries: list[RankedEntry] = []
    for line in lines:
        if _BEST_RE.match(line):
            break
        match = _RANK_ENTRY_RE.match(line)
        if match:
            place = len(entries) + 1
            entries.append(RankedEntry(place, int(match.group(2)), _clean(match.group(3))))
        elif line.strip() and entries:
            last = entries[-1]
            entries[-1] = RankedEntry(
                last.place, last.solution, f"{last.justification} {line.strip()}".strip()
            )
    return entries


def _normalised(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def _ranking_flags(ranking: list[RankedEntry], numbers: list[int]) -> list[str]:
    flags: list[str] = []
    ranked = [entry.solution for entry in ranking]
    for number in sorted(set(ranked) - set(numbers)):
        flags.append(f"the ranking lists solution {number}, which does not exist")
    for number in sorted(set(numbers) - set(ranked)):
        flags.append(f"the ranking omits solution {number}")
    for number in sorted({n for n in ranked if ranked.count(n) > 1}):
        flags.append(f"the ranking lists solution {number} more than once")
    return flags


def _solution_flags(solutions: list[Solution]) -> list[str]:
    flags: list[str] = []
    numbers = [item.number for item in solutions]
    if len(solutions) < 2:
        flags.append("only one solution was given (at least two were asked for)")
    if numbers != list(range(1, len(numbers) + 1)):
        flags.append(f"solutions are numbered {numbers}, not 1..{len(numbers)}")
    for item in solutions:
        if item.final_answer is None:
            flags.append(f"solution {item.number} has no 'Final answer:' line")
    return flags


def _fallback_best(result: RankedSolutions) -> tuple[str, str] | None:
    top = result.best_solution
    if top is not None and top.final_answer:
        return top.final_answer, f"no best answer line; took the answer of solution {top.number}"
    for item in result.solutions:
        if item.final_answer:
            return item.final_answer, (
                f"no best answer line and no usable ranking; took the answer of solution "
                f"{item.number}"
            )
    return None


def parse_ranked_solutions(text: str) -> RankedSolutions:
    """Parse a "several solutions, ranked, best and final answer" response.

    Raises :class:`airloom.errors.ParseError` when no solution section is found or no
    answer can be determined at all; everything else becomes a flag.

    Example:
        >>> r = parse_ranked_solutions("**Solution 1 -** think\\n**Final Answer:** 4")
        >>> r.best_answer
        '4'
        >>> for flag in r.flags:
        ...     print(flag)
        only one solution was given (at least two were asked for)
        no ranking section
        no best answer line and no usable ranking; took the answer of solution 1
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    sections, ranking_at, best_at = _split_sections(lines)
    if not sections:
        raise ParseError(
            "no 'Solution 1:' section found",
            raw=text,
            hint="the answer should list solutions as 'Solution N:' with a 'Final answer:' each",
        )
    solutions = [_parse_solution(number, body) for number, body in sections]
    ranking_end = best_at if best_at > ranking_at else len(lines)
    ranking = _parse_ranking(lines[ranking_at + 1 : ranking_end]) if ranking_at >= 0 else []
    flags = _solution_flags(solutions)
    if ranking_at < 0:
        flags.append("no ranking section")
    elif not ranking:
        flags.append("the ranking section lists no solutions")
    if ranking:
        flags.extend(_ranking_flags(ranking, [item.number for item in solutions]))
    result = RankedSolutions(solutions, ranking, "", flags)
    return _with_best(result, lines, best_at, text)


def _with_best(
    result: RankedSolutions, lines: list[str], best_at: int, raw: str
) -> RankedSolutions:
    if best_at >= 0:
        match = _BEST_RE.match(lines[best_at])
        result.best_answer = _block(lines[best_at + 1 :], match.group(1) if match else "")
    if not result.best_answer:
        fallback = _fallback_best(result)
        if fallback is None:
            raise ParseError(
                "no answer found: no best answer line and no 'Final answer:' in any solution",
                raw=raw,
                hint="the output may be truncated; ask again with a higher max_tokens",
            )
        result.best_answer, flag = fallback
        result.flags.append(flag)
        return result
    top = result.best_solution
    if (
        top is not None
        and top.final_answer is not None
        and (_normalised(top.final_answer) != _normalised(result.best_answer))
    ):
        result.flags.append(
            f"the best answer differs from the final answer of the top-ranked solution {top.number}"
        )
    return result
