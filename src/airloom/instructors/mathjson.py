"""``mathjson``: word problems solved with reasoning and a MathJSON expression.

One round = one call writing ``batch_size`` PROBLEM/ANSWER pairs (the answer a number:
the ground truth) + one call per novel problem asking for step-by-step reasoning and a
MathJSON expression between ``<mathjson>`` tags. The expression is evaluated by the
safe evaluator of :mod:`airloom.checks.mathjson` (an operator table over parsed JSON,
bounded; no ``eval``, no attribute lookups) and the record is kept only when the value
is within ``tolerance`` of the ground truth (``check_mathjson``). The instruction always
starts with "Create a MathJSON solution to the following:" (the original added it to
only some rows).

Example:
    >>> parse_problems("PROBLEM: 3 boxes of 4 eggs?\\nANSWER: 12\\nPROBLEM: Half of 9?\\n"
    ...                "ANSWER: four and a half")
    ([('3 boxes of 4 eggs?', 12.0)], ['Half of 9?'])
"""

from __future__ import annotations

from airloom.checks.mathjson import MATHJSON_PREFIX, answer_number, solve
from airloom.instructors.base import Draft, Instructor, RoundContext, complete_items
from airloom.instructors.checked import enforce
from airloom.instructors.parsing import parse_qa_pairs
from airloom.instructors.settings.mathjson import DEFAULT_KINDS, MathJSONConfig
from airloom.instructors.verified import strip_preamble
from airloom.reasons import Reason

__all__ = ["MathJSONInstructor", "number_problems", "parse_problems"]


def parse_problems(text: str) -> tuple[list[tuple[str, float]], list[str]]:
    """(problem, numeric answer) pairs, and the problems whose answer is not a number.

    Example:
        >>> parse_problems("PROBLEM: x?\\nANSWER: -2.5 metres")
        ([('x?', -2.5)], [])
    """
    return number_problems(parse_qa_pairs(text, "PROBLEM", "ANSWER"))


def number_problems(
    pairs: list[tuple[str, str]],
) -> tuple[list[tuple[str, float]], list[str]]:
    """Split (problem, answer text) pairs into those with a numeric answer and the rest.

    Example:
        >>> number_problems([("x?", "3.5 metres"), ("y?", "many")])
        ([('x?', 3.5)], ['y?'])
    """
    good: list[tuple[str, float]] = []
    bad: list[str] = []
    for problem, answer in pairs:
        value = answer_number(answer)
        if value is None:
            bad.append(problem)
        else:
            good.append((" ".join(problem.split()), value))
    return good, bad


class MathJSONInstructor(Instructor):
    """Word problems with MathJSON solutions, evaluated and compared with the answer."""

    name = "mathjson"
    config_model = MathJSONConfig

    def _config(self) -> MathJSONConfig:
        config = self.config
        assert isinstance(config, MathJSONConfig)
        return config

    async def run_round(self, ctx: RoundContext) -> list[Draft]:
        config = self._config()
        count = self.settings.batch_size
        kinds = config.problem_kinds or DEFAULT_KINDS
        lines = "\n".join(
            f"- PROBLEM {i} is about {ctx.rng.choice(kinds)}." for i in range(1, count + 1)
        )
        template = self.settings.template("mathjson.txt")
        prompt = template.render(
            problem_lines=lines,
            language=self.settings.language,
            topic_avoidance=self.settings.topic_avoidance,
        )
        pairs = await complete_items(
            ctx,
            prompt,
            lambda text: parse_qa_pairs(text, "PROBLEM", "ANSWER"),
            key="problems",
            template=template,
            filtered=False,
        )
        problems, bad = number_problems(pairs)
        for problem in bad:
            ctx.reject(Reason.NO_NUMERIC_ANSWER, problem[:120])
        problems = problems[:count]
        if not problems:
            if not bad:
                ctx.reject(Reason.UNPARSEABLE, "no PROBLEM/ANSWER pairs")
            return []
        novel = await ctx.novel([problem for problem, _ in problems])
        fresh = [item for item, ok in zip(problems, novel, strict=True) if ok]
        response_template = self.settings.template("mathjson_response.txt", response=True)

        async def solve_one(item: tuple[str, float]) -> Draft:
            problem, expected = item
            answer = await ctx.complete(
                response_template.render(problem=problem),
                key=f"solution:{problems.index(item)}",
                filtered=False,
            )
            draft = Draft(
                instruction=f"{MATHJSON_PREFIX} {problem}",
                response=strip_preamble(answer),
                dedup_text=problem,
                meta={"expected": expected, "tolerance": config.tolerance},
            )
            draft = enforce(self.name, draft)
            draft.meta["value"] = solve(draft.response)
            return draft

        return await ctx.map(solve_one, fresh)
