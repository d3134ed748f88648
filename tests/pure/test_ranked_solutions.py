"""Ranked solutions: the card example, numbering and wording drift, flags, errors."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airloom.errors import ParseError
from airloom.runtime.solutions import RankedEntry, parse_ranked_solutions

# the model cards live in shared/ beside the checkout, where there is one
SEED = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / "seeds"
    / "001_beb6e5408e23efdc.txt"
)

CARD = """Solution 1:
In a round-robin tournament, each player plays every other player exactly once. This means that the total number of games played is equal to the combination of all players taken two at a time (since a game involves two players).

The formula for combinations is nC2 = n(n-1)/2, where n is the total number of players. We know that nC2 equals 45 (the total number of games), so we can set up the equation as follows:

n(n-1)/2 = 45

Solving this equation gives us n=10.

Final answer: There were 10 players in the tournament.

Solution 2:
Another way to approach this problem is by using the concept of triangular numbers.

Final answer: There were 10 players in the tournament.

Solution 3:
We could also use trial and error to solve this problem.

Final answer: There were 10 players in the tournament.

Ranking of solutions from best to worst:
1. Solution 1: This solution uses direct mathematical reasoning based on the properties of a round-robin tournament and solves an equation to find the answer.
2. Solution 2: This solution uses the concept of triangular numbers which requires additional steps and knowledge beyond the immediate problem context, but still arrives at the correct answer.
3. Solution 3: This solution relies on trial and error, which is less efficient and reliable than the other methods, but it eventually gets to the right answer.

Best and final answer: There were 10 players in the tournament."""  # noqa: E501


def test_card_example() -> None:
    result = parse_ranked_solutions(CARD)
    assert [s.number for s in result.solutions] == [1, 2, 3]
    assert {s.final_answer for s in result.solutions} == {
        "There were 10 players in the tournament."
    }
    assert result.solutions[0].reasoning.startswith("In a round-robin tournament")
    assert result.solutions[0].reasoning.endswith("Solving this equation gives us n=10.")
    assert [(e.place, e.solution) for e in result.ranking] == [(1, 1), (2, 2), (3, 3)]
    assert result.ranking[2].justification.startswith("This solution relies on trial and error")
    assert result.best_answer == "There were 10 players in the tournament."
    assert result.flags == []


@pytest.mark.skipif(not SEED.exists(), reason="reference seeds not available")
def test_card_example_as_published() -> None:
    text = SEED.read_text()
    start = text.index("Solution 1:")
    end = text.index("reWOO style execution planning", start)
    result = parse_ranked_solutions(text[start:end])
    assert len(result.solutions) == 3
    assert result.best_answer == "There were 10 players in the tournament."
    assert result.flags == []


def _answer(ranking: str, best: str = "Best and final answer: 10") -> str:
    return (
        "Solution 1:\nGuess.\nFinal answer: 9\n\n"
        "Solution 2:\nAlgebra.\nFinal answer: 10\n\n"
        "Solution 3:\nTable.\nFinal answer: 10\n\n" + ranking + "\n\n" + best
    )


RANK_231 = (
    "Ranking of solutions from best to worst:\n1. Solution 2: algebra\n"
    "2. Solution 3: table\n3. Solution 1: guess"
)

VECTORS = [
    ("ranking differs from position", _answer(RANK_231), [2, 3, 1], "10", []),
    (
        "two solutions",
        "Solution 1:\nA.\nFinal answer: x\n\nSolution 2:\nB.\nFinal answer: y\n\n"
        "Ranking of solutions from best to worst:\n1. Solution 2: b\n2. Solution 1: a\n\n"
        "Best and final answer: y",
        [2, 1],
        "y",
        [],
    ),
    (
        "missing best line (truncated)",
        _answer(RANK_231, best=""),
        [2, 3, 1],
        "10",
        ["no best answer line; took the answer of solution 2"],
    ),
    (
        "best differs from the top-ranked answer",
        _answer(RANK_231, best="Best and final answer: 9"),
        [2, 3, 1],
        "9",
        ["the best answer differs from the final answer of the top-ranked solution 2"],
    ),
    (
        "markdown bold everywhere",
        "**Solution 1:**\nGuess.\n**Final Answer:** 9\n\n**Solution 2:**\nAlgebra.\n"
        "**Final Answer:** 10\n\n**Ranking of solutions from best to worst:**\n"
        "1. **Solution 2:** algebra\n2. **Solution 1:** guess\n\n**Best and final answer:** 10",
        [2, 1],
        "10",
        [],
    ),
    (
        "dash after the number and headings",
        "### Solution 1 - guessing\nFinal answer: 9\n\n### Solution 2 - algebra\nFinal answer: 10"
        "\n\n### Ranking of Solutions\n- Solution 2 - best\n- Solution 1 - worst\n\n"
        "### Best and Final Answer: 10",
        [2, 1],
        "10",
        [],
    ),
    (
        "answer and option nouns, ranked list with ')'",
        "Answer 1:\nA.\nFinal answer: 9\n\nOption 2:\nB.\nFinal answer: 10\n\nRanking:\n"
        "1) Option 2 - sound\n2) Answer 1 - weak\n\nBest answer: 10",
        [2, 1],
        "10",
        [],
    ),
    (
        "multi-line best answer ends at a blank line",
        _answer(RANK_231, best="Best and final answer:\n10 players,\nas computed.\n\nThanks!"),
        [2, 3, 1],
        "10 players,\nas computed.",
        ["the best answer differs from the final answer of the top-ranked solution 2"],
    ),
    (
        "normalised comparison ignores case and punctuation",
        _answer(RANK_231, best="Best and final answer: **10.**"),
        [2, 3, 1],
        "10.",
        [],
    ),
    (
        "ranking names a missing solution and omits one",
        _answer(
            "Ranking of solutions from best to worst:\n1. Solution 2: a\n2. Solution 4: b\n"
            "3. Solution 2: c"
        ),
        [2, 4, 2],
        "10",
        [
            "the ranking lists solution 4, which does not exist",
            "the ranking omits solution 1",
            "the ranking omits solution 3",
            "the ranking lists solution 2 more than once",
        ],
    ),
    (
        "no ranking section",
        "Solution 1:\nA.\nFinal answer: 9\n\nSolution 2:\nB.\nFinal answer: 10\n\n"
        "Best and final answer: 10",
        [],
        "10",
        ["no ranking section"],
    ),
    (
        "no ranking and no best line",
        "Solution 1:\nA.\nFinal answer: 9\n\nSolution 2:\nB.\nFinal answer:",
        [],
        "9",
        [
            "solution 2 has no 'Final answer:' line",
            "no ranking section",
            "no best answer line and no usable ranking; took the answer of solution 1",
        ],
    ),
    (
        "several final answer lines: the last one counts",
        "Solution 1:\nFinal answer: 8\nWait, recheck.\nFinal answer: 9\n\nSolution 2:\nB.\n"
        "Final answer: 10\n\nRanking of solutions from best to worst:\n1. Solution 1: x\n"
        "2. Solution 2: y\n\nBest and final answer: 9",
        [1, 2],
        "9",
        [],
    ),
    (
        "numbering drift",
        "Solution 0:\nA.\nFinal answer: 9\n\nSolution 2:\nB.\nFinal answer: 10\n\n"
        "Ranking of solutions from best to worst:\n1. Solution 2: b\n2. Solution 0: a\n\n"
        "Best and final answer: 10",
        [2, 0],
        "10",
        ["solutions are numbered [0, 2], not 1..2"],
    ),
    (
        "crlf and preamble",
        ("Let's think.\n\n" + _answer(RANK_231)).replace("\n", "\r\n"),
        [2, 3, 1],
        "10",
        [],
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "ranked", "best", "flags"), VECTORS, ids=[v[0] for v in VECTORS]
)
def test_vectors(name: str, text: str, ranked: list[int], best: str, flags: list[str]) -> None:
    result = parse_ranked_solutions(text)
    assert [entry.solution for entry in result.ranking] == ranked
    assert result.best_answer == best
    assert result.flags == flags


def test_best_solution_and_ranked_entries() -> None:
    result = parse_ranked_solutions(_answer(RANK_231))
    assert result.best_solution is not None
    assert result.best_solution.final_answer == "10"
    assert result.ranking[0] == RankedEntry(1, 2, "algebra")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no 'Solution 1:' section found"),
        ("The answer is 10.", "no 'Solution 1:' section found"),
        ("Best and final answer: 10", "no 'Solution 1:' section found"),
        ("Solution 1:\nThinking about it", "no answer found"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_ranked_solutions(text)
    assert info.value.raw == text


@settings(deadline=1000, max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=20),
            st.sampled_from(
                [
                    "Solution 1:",
                    "Solution 2 -",
                    "Final answer: 3",
                    "Ranking of solutions from best to worst:",
                    "1. Solution 2: x",
                    "Best and final answer: 3",
                    "",
                ]
            ),
        ),
        max_size=15,
    )
)
def test_fuzz_only_parse_errors(lines: list[str]) -> None:
    with contextlib.suppress(ParseError):
        result = parse_ranked_solutions("\n".join(lines))
        assert result.best_answer


def test_long_input_is_fast() -> None:
    import time

    text = _answer(RANK_231).replace("Algebra.", "word " * 50_000)
    started = time.perf_counter()
    parse_ranked_solutions(text)
    assert time.perf_counter() - started < 1.0
