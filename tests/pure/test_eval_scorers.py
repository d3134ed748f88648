"""Eval scorers on hand-written good and bad answers, for every kind of the bundled suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airloom.curate.sandbox import RunResult
from airloom.errors import ConfigError
from airloom.evaluate.cases import (
    KINDS,
    ActionCase,
    CodeCase,
    ContextCase,
    FunctionCase,
    PlanCase,
    SolutionsCase,
    load_suite,
    parse_suite,
)
from airloom.evaluate.runner import RunSettings, build_request
from airloom.evaluate.scorers import (
    check_plan_answer,
    code_program,
    says_unknown,
    score_action,
    score_code_run,
    score_context,
    score_function,
    score_plan_trace,
    score_solutions,
    states_fact,
)
from airloom.formats.chat import get_template
from airloom.runtime.rewoo.runner import with_plan_stops
from airloom.runtime.rewoo.trace import Trace

SUITE = load_suite("core")
CASES = {case.id: case for case in SUITE.cases}
TOOLS = ["DuckDuckGo", "TextScraper", "HyperlinkExtractor", "KnowledgeModel"]


def _case(case_id: str, kind: type) -> object:
    case = CASES[case_id]
    assert isinstance(case, kind)
    return case


def test_bundled_suite_has_every_kind_in_both_splits() -> None:
    assert len(SUITE.cases) >= 80
    for kind in KINDS:
        splits = {case.split for case in SUITE.cases if case.kind == kind}
        assert splits == {"dev", "heldout"}, kind
    assert SUITE.corpus is not None and len(list(SUITE.corpus.glob("*.md"))) >= 14
    counterfactual = [c for c in SUITE.cases if isinstance(c, ContextCase) and not c.facts]
    assert {c.split for c in counterfactual} == {"dev", "heldout"}


def test_every_plan_fact_is_in_the_corpus() -> None:
    assert SUITE.corpus is not None
    text = " ".join(p.read_text(encoding="utf-8") for p in SUITE.corpus.glob("*.md"))
    for case in SUITE.cases:
        if isinstance(case, PlanCase):
            assert states_fact(text, case.facts), case.id


def test_suite_errors_name_the_line() -> None:
    good = json.dumps(
        {"id": "a", "kind": "solutions", "split": "dev", "question": "q", "answer": "1"}
    )
    with pytest.raises(ConfigError, match="line 2: the id"):
        parse_suite(f"{good}\n{good}", "t", None)
    with pytest.raises(ConfigError, match=r"line 1:.*split"):
        parse_suite(good.replace('"dev"', '"test"'), "t", None)
    with pytest.raises(ConfigError, match="not JSON"):
        parse_suite("{oops", "t", None)


def test_plan_cases_need_a_corpus(tmp_path: Path) -> None:
    plan = {"id": "p", "kind": "plan", "split": "dev", "question": "q", "facts": ["x"]}
    (tmp_path / "mine.jsonl").write_text(json.dumps(plan), encoding="utf-8")
    with pytest.raises(ConfigError, match="no corpus folder"):
        load_suite(tmp_path / "mine.jsonl")
    (tmp_path / "mine.corpus").mkdir()
    assert load_suite(tmp_path / "mine.jsonl").corpus == tmp_path / "mine.corpus"


FUNCTION_ANSWERS = [
    (
        '{"function": "convert_currency", "params": {"amount": 250, "from_currency": "EUR", '
        '"to_currency": "USD"}}',
        True,
        "convert_currency",
    ),
    (
        "```yaml\nfunction: convert_currency\nparams:\n  amount: 250.0\n  from_currency: eur\n"
        "  to_currency: usd\n```",
        True,
        "convert_currency",
    ),
    ('{"function": "stock_quote", "params": {"symbol": "EUR"}}', False, "wrong function"),
    (
        '{"function": "convert_currency", "params": {"amount": 25, "from_currency": "EUR", '
        '"to_currency": "USD"}}',
        False,
        "amount: expected 250",
    ),
    (
        '{"function": "convert_currency", "params": {"amount": "lots", "from_currency": "EUR", '
        '"to_currency": "USD"}}',
        False,
        "invalid call",
    ),
    ('{"function": "exchange", "params": {}}', False, "not one of the listed"),
    ("I would convert the money for you.", False, "unreadable"),
    ('{"function": "none"}', False, "no call"),
]


@pytest.mark.parametrize(("answer", "passed", "reason"), FUNCTION_ANSWERS)
def test_function_scorer(answer: str, passed: bool, reason: str) -> None:
    score = score_function(_case("function-02", FunctionCase), answer)  # type: ignore[arg-type]
    assert score.passed is passed
    assert reason in score.reason


def test_function_scorer_rejects_extra_optional_argument() -> None:
    case = _case("function-15", FunctionCase)
    good = '{"function": "set_lights", "params": {"room": "bedroom", "on": false}}'
    extra = (
        '{"function": "set_lights", "params": {"room": "bedroom", "on": false, "brightness": 0}}'
    )
    assert score_function(case, good).passed  # type: ignore[arg-type]
    assert "not expected" in score_function(case, extra).reason  # type: ignore[arg-type]


CONTEXT_ANSWERS = [
    (
        "The stoneware kiln needs about 1,250 degrees Celsius.\n\nReference(s):\n"
        "author: Lena Ortiz\ntitle: Notes on clay",
        True,
        "cites",
    ),
    ("About 1250 °C.\nSource: title: Notes on clay", True, "cites"),
    ("About 1250 °C.", False, "no citation of title: Notes on clay"),
    ("About 1250 °C.\n\nReference(s):\ntitle: Glaze basics", False, "no citation"),
    ("About 1250 °C.\n\nReference(s):\ntitle: Pottery Weekly", False, "bad citation"),
    ("Reference(s):\nauthor: Lena Ortiz\ntitle: Notes on clay", False, "does not state"),
    (
        "About 1,250 degrees.\nReference(s):\nauthor: Sam Bly\ntitle: Notes on clay",
        False,
        "bad citation",
    ),
]


@pytest.mark.parametrize(("answer", "passed", "reason"), CONTEXT_ANSWERS)
def test_context_scorer(answer: str, passed: bool, reason: str) -> None:
    score = score_context(_case("context-02", ContextCase), answer)  # type: ignore[arg-type]
    assert score.passed is passed, score.reason
    assert reason in score.reason


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ("The text does not say who organised the survey.", True),
        ("I don't know; the input only gives the count.", True),
        ("There is no information about the organiser.", True),
        ("The survey was organised by the Brennan Trust.", False),
        ("Volunteers organised it.\nReference(s):\nurl: https://news.example/otters", False),
    ],
)
def test_counterfactual_context(answer: str, passed: bool) -> None:
    case = _case("context-13", ContextCase)
    assert not case.facts  # type: ignore[attr-defined]
    assert score_context(case, answer).passed is passed  # type: ignore[arg-type]


def test_states_fact_and_unknown_edges() -> None:
    assert states_fact("It is 84,000 volumes.", ["84000"])
    assert not states_fact("It is 840,000 volumes.", ["84000"])
    assert states_fact("Designed by TOMAS REYL.", ["Tomas Reyl"])
    assert not states_fact("Mill Streets", ["Mill Street"])
    assert not says_unknown("Pip is three years old.")


GOOD_PLAN = """Plan: Search for the observatory.
:evidence0: = DuckDuckGo[Velloran Observatory founded]
Plan: Read the pages.
:evidence1: = TextScraper[:evidence0:]
Plan: Answer from them.
:evidence2: = KnowledgeModel[When was the Velloran Observatory founded, given :evidence1:?]
Answer: :evidence2:"""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (GOOD_PLAN.replace("DuckDuckGo", "Google Maps"), "unknown tool"),
        (GOOD_PLAN.replace("TextScraper[:evidence0:]", "TextScraper[:evidence4:]"), "evidence4"),
        ("The observatory was founded in 1887.", "no step definitions"),
    ],
)
def test_plan_check_rejects(text: str, reason: str) -> None:
    checked = check_plan_answer(text, TOOLS)
    assert not isinstance(checked, type(check_plan_answer(GOOD_PLAN, TOOLS)))
    assert reason in checked.reason  # type: ignore[union-attr]


def test_a_plan_is_read_as_the_runtime_reads_it() -> None:
    """Held to the first complete plan, as ``airloom plan`` reads a reply: a model that
    goes on to write another example passes on its first plan, and a bad first plan still
    fails whatever follows it."""
    rambling = GOOD_PLAN + "\n\nNow write the plan for: Who else?\n" + GOOD_PLAN
    assert type(check_plan_answer(rambling, TOOLS)).__name__ == "ValidPlan"
    bad_first = GOOD_PLAN.replace("DuckDuckGo", "Google Maps") + "\n\n" + GOOD_PLAN
    assert "unknown tool" in check_plan_answer(bad_first, TOOLS).reason  # type: ignore[union-attr]


def test_plan_cases_are_asked_with_the_runtimes_plan_stops() -> None:
    plan = _case("plan-08", PlanCase)
    function = _case("function-08", FunctionCase)
    settings = RunSettings(get_template("chatml"))
    stops = build_request(plan, "m", [], settings).params["stop"]  # type: ignore[arg-type]
    assert stops == with_plan_stops(list(get_template("chatml").stop))
    assert "\nNow write the plan" in with_plan_stops([]) and len(stops) <= 4
    other = build_request(function, "m", [], settings).params["stop"]  # type: ignore[arg-type]
    assert other == list(get_template("chatml").stop)


def test_plan_check_accepts_only_offered_tools() -> None:
    assert type(check_plan_answer(GOOD_PLAN, TOOLS)).__name__ == "ValidPlan"
    assert "unknown tool" in check_plan_answer(GOOD_PLAN, ["DuckDuckGo"]).reason  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("trace", "passed", "reason"),
    [
        (Trace("It was founded in 1887 by Mira Castell.", "evidence", ()), True, "holds"),
        (Trace("It was founded in 1888.", "evidence", ()), False, "lacks '1887'"),
        (Trace("1887", "literal", (), ungrounded=True), False, "no evidence"),
        (Trace(None, "evidence", (), error="deadline"), False, "execution failed: deadline"),
    ],
)
def test_plan_trace_scorer(trace: Trace, passed: bool, reason: str) -> None:
    score = score_plan_trace(_case("plan-01", PlanCase), trace)  # type: ignore[arg-type]
    assert score.passed is passed and reason in score.reason


def test_code_program_and_verdicts() -> None:
    case = _case("code-05", CodeCase)
    answer = "```python\ndef celsius_to_fahrenheit(c):\n    return c * 9 / 5 + 32\n```"
    program = code_program(case, answer, "m-7")  # type: ignore[arg-type]
    assert program.startswith("def celsius_to_fahrenheit") and "assert" in program
    assert score_code_run(RunResult("ok", "ran", 0, stdout="m-7\n"), "m-7").passed
    assert not score_code_run(RunResult("ok", "ran", 0, stdout=""), "m-7").passed
    failed = score_code_run(RunResult("error", "AssertionError at line 4", 1), "m-7")
    assert not failed.passed and "AssertionError" in failed.reason


RANKED = """Solution 1:
From 09:40 to 11:40 is 120 minutes; arriving 25 minutes earlier gives 95.
Final answer: 95 minutes

Solution 2:
11:15 minus 9:40 read as decimals is 1.75 hours, 105 minutes.
Final answer: 105 minutes

Ranking of solutions from best to worst:
1. Solution 1: it counts minutes correctly.
2. Solution 2: it treats minutes as decimals.

Best and final answer: 95 minutes"""


@pytest.mark.parametrize(
    ("answer", "passed", "reason"),
    [
        (RANKED, True, "right best answer"),
        (
            RANKED.replace("Best and final answer: 95", "Best and final answer: 105"),
            False,
            "expected '95'",
        ),
        ("Solution 1:\nIt is 95.\nFinal answer: 95", False, "at least two"),
        ("95 minutes.", False, "unreadable"),
    ],
)
def test_solutions_scorer(answer: str, passed: bool, reason: str) -> None:
    score = score_solutions(_case("solutions-01", SolutionsCase), answer)  # type: ignore[arg-type]
    assert score.passed is passed and reason in score.reason


ACTIONS = [
    (
        'I lift it carefully. <|begin_func|>{"name": "pick_up", "parameters": {"object": '
        '"flask"}}<|end_func|> It glows.',
        True,
        "expected parameters",
    ),
    (
        '<|begin_func|>{"name": "pick_up", "arguments": "{\\"object\\": \\"Flask\\"}"}<|end_func|>',
        True,
        "expected parameters",
    ),
    (
        '<|begin_func|>{"name": "look_at", "parameters": {"object": "flask"}}<|end_func|>',
        False,
        "wrong action",
    ),
    (
        '<|begin_func|>{"name": "pick_up", "parameters": {"object": "sword"}}<|end_func|>',
        False,
        "not an available object",
    ),
    ('<|begin_func|>{"name": "drink", "parameters": {}}<|end_func|>', False, "invalid action"),
    ("I pick up the flask and hold it to the light.", False, "no inline action"),
]


@pytest.mark.parametrize(("answer", "passed", "reason"), ACTIONS)
def test_action_scorer(answer: str, passed: bool, reason: str) -> None:
    score = score_action(_case("action-01", ActionCase), answer)  # type: ignore[arg-type]
    assert score.passed is passed, score.reason
    assert reason in score.reason
