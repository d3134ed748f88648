"""Scorers: what a program can check of an answer, one pure function per kind.

Every scorer returns a :class:`Score` (passed or not, and why). Function calls,
closed-context answers, ranked solutions and inline actions are scored from the text
alone. Plans and code need one real run in between: :func:`check_plan_answer` parses
and validates the plan (pure), the runner executes it with the real executor, and
:func:`score_plan_trace` judges the result (pure); :func:`code_program` builds the
program (pure), the runner runs it in the sandbox, and :func:`score_code_run` reads
the verdict (pure).

Example:
    >>> states_fact("It opened in 1,887 near Lake Vell.", ["1887"])
    True
    >>> says_unknown("The text does not mention who founded it.")
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airloom.curate.sandbox import RunResult
from airloom.errors import ParseError, PlanError
from airloom.evaluate.cases import (
    ActionCase,
    CodeCase,
    ContextCase,
    FunctionCase,
    PlanCase,
    SolutionsCase,
)
from airloom.evaluate.prompts import action_card, context_prompt
from airloom.formats.chat import plain_code
from airloom.formats.closed_context import check_citations, extract_citations
from airloom.formats.values import argument_problems, same_value
from airloom.runtime.actions import ActionErrorEvent, ActionEvent, parse_actions
from airloom.runtime.functions import FunctionCall, FunctionCallError, FunctionRegistry
from airloom.runtime.rewoo.parse import first_plan
from airloom.runtime.rewoo.runner import check_plan
from airloom.runtime.rewoo.trace import Trace
from airloom.runtime.rewoo.validate import ValidPlan
from airloom.runtime.solutions import parse_ranked_solutions
from airloom.runtime.tools.registry import ToolRegistry

__all__ = [
    "Score",
    "check_plan_answer",
    "code_program",
    "says_unknown",
    "score_action",
    "score_code_run",
    "score_context",
    "score_function",
    "score_plan_trace",
    "score_solutions",
    "states_fact",
]


@dataclass(frozen=True, slots=True)
class Score:
    """One case's verdict: ``passed`` and the reason in words."""

    passed: bool
    reason: str


_PUNCT_RE = re.compile(r"[^\w\s.%-]+")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}\b)")
_IDK_RE = re.compile(
    r"\b(?:i\s+)?(?:do\s+not|don't|dont|cannot|can't|can\s?not)\s+(?:know|tell|say|determine|"
    r"answer|find)|\bunknown\b|\bnot\s+(?:mentioned|stated|specified|provided|given|included|"
    r"say|said|indicated|clear)|\bno\s+(?:information|mention|details?|data)\b|"
    r"\b(?:does|do|did)\s+not\s+(?:mention|say|state|specify|provide|include|contain|indicate)|"
    r"\b(?:doesn't|don't|didn't)\s+(?:mention|say|state|specify|provide|include|contain)|"
    r"\bunable\s+to\b|\bnot\s+(?:possible|able)\s+to\s+(?:determine|tell|answer)",
    re.IGNORECASE,
)


def _normalise_text(text: str) -> str:
    text = _THOUSANDS_RE.sub("", text.casefold())
    text = _PUNCT_RE.sub(" ", text)
    return " ".join(text.replace(".", " . ").split()).replace(" . ", " ").strip(" .")


def states_fact(answer: str, facts: Sequence[str]) -> bool:
    """True when the answer holds one of ``facts`` (case, punctuation and thousands
    separators ignored; words must match whole).

    Example:
        >>> states_fact("The Velloran bridge is 412 m long.", ["412 m", "412 metres"])
        True
        >>> states_fact("It is 4120 m long.", ["412"])
        False
    """
    text = f" {_normalise_text(answer)} "
    return any(f" {_normalise_text(fact)} " in text for fact in facts if fact.strip())


def says_unknown(answer: str) -> bool:
    """True when the answer says the context does not give the answer.

    Example:
        >>> says_unknown("Paris."), says_unknown("I don't know; the input never says.")
        (False, True)
    """
    return _IDK_RE.search(answer) is not None


def score_function(case: FunctionCase, answer: str) -> Score:
    """Right function, arguments valid against its schema and equal to the expected ones.

    Example:
        >>> from airloom.evaluate.cases import ExpectedCall
        >>> case = FunctionCase(id="f", kind="function", split="dev", input="Oslo weather",
        ...     functions=[{"name": "weather", "parameters": {"city": {"type": "string"}}}],
        ...     expected=ExpectedCall(function="weather", params={"city": "Oslo"}))
        >>> score_function(case, '{"function": "weather", "params": {"city": "Oslo"}}').passed
        True
        >>> score_function(case, '{"function": "weather", "params": {"city": "Bergen"}}').reason
        "wrong arguments: city: expected 'Oslo', got 'Bergen'"
    """
    registry = FunctionRegistry.from_schemas(case.functions)
    try:
        call = registry.parse(answer, multiple="first")
    except FunctionCallError as exc:
        return Score(False, f"invalid call: {'; '.join(exc.problems) or exc.message}")
    except ParseError as exc:
        return Score(False, f"unreadable call: {exc.message}")
    if not isinstance(call, FunctionCall):
        return Score(False, f"no call: {call.reason}")
    if call.name != case.expected.function:
        return Score(False, f"wrong function: {call.name} (expected {case.expected.function})")
    problems = argument_problems(case.expected.params, call.arguments)
    if problems:
        return Score(False, "wrong arguments: " + "; ".join(problems))
    return Score(True, f"{call.name} with the expected arguments")


def _cites(answer: str, wanted: Mapping[str, str]) -> bool:
    groups = extract_citations(answer, known_keys=list(wanted))
    return any(
        all(same_value(value, group.get(key, "")) for key, value in wanted.items())
        for group in groups
    )


def score_context(case: ContextCase, answer: str) -> Score:
    """States the fact and cites the right block's metadata, with no invented citation;
    a counterfactual case (no ``facts``) must answer that it does not know.

    Example:
        >>> from airloom.evaluate.cases import ContextBlock
        >>> case = ContextCase(id="c", kind="context", split="dev", question="Colour?",
        ...     blocks=[ContextBlock(metadata={"url": "https://a/1"}, text="Tilo is blue.")],
        ...     facts=["blue"], cite={"url": "https://a/1"})
        >>> score_context(case, "Blue.\\n\\nReference(s):\\nurl: https://a/1").passed
        True
        >>> score_context(case, "Blue.").reason
        'no citation of url: https://a/1'
    """
    if not case.facts:
        if says_unknown(answer):
            return Score(True, "says the context does not tell")
        return Score(False, "answered although the context does not tell")
    if not states_fact(answer, case.facts):
        return Score(False, f"does not state {case.facts[0]!r}")
    problems = check_citations(answer, context_prompt(case))
    if problems:
        return Score(False, f"bad citation: {problems[0]}")
    if case.cite and not _cites(answer, case.cite):
        wanted = ", ".join(f"{key}: {value}" for key, value in case.cite.items())
        return Score(False, f"no citation of {wanted}")
    return Score(True, "states the fact and cites the source")


def check_plan_answer(answer: str, tools: Sequence[str]) -> ValidPlan | Score:
    """The validated plan, or a failing score saying why it cannot run.

    The reply is read as the runtime reads it: up to its first complete ``Answer:`` line
    (a model that goes on to write another example plan is held to its first). Only
    ``tools`` (the offered names) may be used; evidence must be defined before use and
    the answer must reference a step.

    Example:
        >>> check_plan_answer("Answer: 42", ["DuckDuckGo"]).reason[:39]
        'invalid plan: no step definitions found'
        >>> plan = check_plan_answer(":evidence0: = DuckDuckGo[x]\\nAnswer: :evidence0:",
        ...                          ["DuckDuckGo"])
        >>> type(plan).__name__
        'ValidPlan'
        >>> type(check_plan_answer(":evidence0: = DuckDuckGo[x]\\nAnswer: :evidence0:\\n"
        ...                        "Question: next?\\n:evidence0: = DuckDuckGo[y]",
        ...                        ["DuckDuckGo"])).__name__
        'ValidPlan'
    """
    try:
        return check_plan(first_plan(answer), ToolRegistry(), offered=list(tools))
    except PlanError as exc:
        return Score(False, f"invalid plan: {exc.problems[0] if exc.problems else exc.message}")


def score_plan_trace(case: PlanCase, trace: Trace) -> Score:
    """The executed plan produced an answer grounded in evidence that holds a fact.

    Example:
        >>> case = PlanCase(id="p", kind="plan", split="dev", question="q", facts=["1887"])
        >>> score_plan_trace(case, Trace(answer="In 1887.", answer_kind="evidence",
        ...                              steps=())).passed
        True
        >>> score_plan_trace(case, Trace(answer=None, answer_kind="evidence", steps=(),
        ...                              error="step 1 failed")).reason
        'execution failed: step 1 failed'
    """
    if not trace.ok or trace.answer is None:
        return Score(False, f"execution failed: {trace.error or 'no answer'}")
    if trace.ungrounded:
        return Score(False, "the answer cites no evidence")
    if not states_fact(trace.answer, case.facts):
        return Score(False, f"executed, but the answer lacks {case.facts[0]!r}")
    return Score(True, "executed; the answer holds the fact")


def code_program(case: CodeCase, answer: str, marker: str) -> str:
    """The program to run: the answer's plain code, the case's asserts, then ``marker``
    printed (pick a fresh random marker per run, so the answer cannot print it itself).

    Example:
        >>> case = CodeCase(id="c", kind="code", split="dev", task="t", asserts="assert f(2) == 4")
        >>> print(code_program(case, "```python\\ndef f(x):\\n    return x * 2\\n```", "ok-1f"))
        def f(x):
            return x * 2
        <BLANKLINE>
        assert f(2) == 4
        print('ok-1f')
    """
    return f"{plain_code(answer)}\n\n{case.asserts.strip()}\nprint({marker!r})"


def score_code_run(run: RunResult, marker: str) -> Score:
    """Passed when the program ran to its end (the marker line) in the sandbox.

    Example:
        >>> score_code_run(RunResult("ok", "ran", 0, stdout="ok-1f\\n"), "ok-1f").passed
        True
        >>> score_code_run(RunResult("ok", "ran", 0, stdout="done\\n"), "ok-1f").reason
        'the program stopped before the asserts ran to their end'
        >>> score_code_run(RunResult("error", "AssertionError", 1), "ok-1f").reason
        'error: AssertionError'
    """
    if run.ok and marker in run.stdout.split():
        return Score(True, "ran and passed the asserts")
    if run.ok:
        return Score(False, "the program stopped before the asserts ran to their end")
    return Score(False, f"{run.status}: {run.reason}")


_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")


def _same_answer(expected: str, got: str) -> bool:
    numbers = _NUMBER_RE.findall(_THOUSANDS_RE.sub("", expected))
    if numbers and _NUMBER_RE.fullmatch(numbers[0]) and len(numbers) == 1:
        found = _NUMBER_RE.findall(_THOUSANDS_RE.sub("", got))
        return bool(found) and float(found[0]) == float(numbers[0])
    return states_fact(got, [expected])


def score_solutions(case: SolutionsCase, answer: str) -> Score:
    """Parses as ranked solutions and the best and final answer is right.

    A numeric expected answer is compared with the first number of the best answer.

    Example:
        >>> case = SolutionsCase(id="s", kind="solutions", split="dev", question="q", answer="12")
        >>> text = ("Solution 1:\\n3*4.\\nFinal answer: 12\\n\\nSolution 2:\\nGuess.\\n"
        ...         "Final answer: 10\\n\\nRanking of solutions from best to worst:\\n"
        ...         "1. Solution 1: exact\\n2. Solution 2: a guess\\n\\n"
        ...         "Best and final answer: 12 apples")
        >>> score_solutions(case, text).passed
        True
        >>> score_solutions(case, "It is 12.").reason
        "unreadable: no 'Solution 1:' section found"
    """
    try:
        result = parse_ranked_solutions(answer)
    except ParseError as exc:
        return Score(False, f"unreadable: {exc.message}")
    if len(result.solutions) < 2 or not result.ranking:
        return Score(False, "needs at least two solutions and a ranking")
    if not _same_answer(case.answer, result.best_answer):
        return Score(False, f"best answer {result.best_answer[:60]!r}, expected {case.answer!r}")
    return Score(True, "ranked solutions with the right best answer")


def score_action(case: ActionCase, answer: str) -> Score:
    """Every inline action is valid for the card, and one is the expected action.

    Example:
        >>> from airloom.evaluate.cases import ActionCard, ExpectedAction
        >>> card = ActionCard(name="Ann", persona="p", setting="s",
        ...     functions=[{"name": "open", "parameters": {"object": {"type": "string"}}}],
        ...     objects_available=[{"name": "door"}, {"name": "box"}])
        >>> case = ActionCase(id="a", kind="action", split="dev", card=card, message="m",
        ...     expected=ExpectedAction(name="open", parameters={"object": "door"}))
        >>> ok = ('Sure. <|begin_func|>{"name": "open", "parameters": {"object": "door"}}'
        ...       '<|end_func|>')
        >>> score_action(case, ok).passed, score_action(case, ok.replace("door", "box")).passed
        (True, False)
    """
    events = parse_actions(answer, action_card(case))
    errors = [event for event in events if isinstance(event, ActionErrorEvent)]
    if errors:
        first = errors[0]
        return Score(
            False, f"invalid action: {first.problems[0] if first.problems else first.reason}"
        )
    actions = [event for event in events if isinstance(event, ActionEvent)]
    if not actions:
        return Score(False, "no inline action")
    wanted = case.expected
    for action in actions:
        if action.name == wanted.name and not argument_problems(
            wanted.parameters, action.arguments
        ):
            return Score(True, f"{action.name} with the expected parameters")
    got = ", ".join(f"{a.name}({a.arguments})" for a in actions)
    return Score(False, f"wrong action: {got}")
