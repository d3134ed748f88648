"""Group-b instructors: parser tables and rounds on a fake context, rejects with reasons."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from airloom.checks.functions import check_function_call
from airloom.checks.lengths import count_words
from airloom.checks.logs import QUESTIONS, expected_answer, parse_log, parse_question
from airloom.checks.plans import check_plan
from airloom.checks.rules import Rule, parse_rule
from airloom.config import InstructorConfig
from airloom.errors import ConfigError
from airloom.formats.closed_context import parse_closed_context
from airloom.formats.records import make_record
from airloom.formats.rows import airoboros_row, sharegpt_row
from airloom.instructors.agent import AgentConfig, AgentInstructor, parse_toolbox, serialise_call
from airloom.instructors.agent_compose import load_catalogue, parse_request
from airloom.instructors.anonymization import AnonymizationConfig, AnonymizationInstructor
from airloom.instructors.base import Draft, Instructor, Rejected
from airloom.instructors.cot import CotInstructor
from airloom.instructors.detailed_writing import (
    DetailedWritingConfig,
    DetailedWritingInstructor,
    load_seeds,
)
from airloom.instructors.greeting import GreetingInstructor
from airloom.instructors.log_extraction import (
    LogExtractionConfig,
    LogExtractionInstructor,
    make_item,
)
from airloom.instructors.mathjson import MathJSONConfig, MathJSONInstructor, parse_problems
from airloom.instructors.multiple_choice import MultipleChoiceConfig, MultipleChoiceInstructor
from airloom.instructors.plan import (
    PlanConfig,
    PlanInstructor,
    parse_plan_question,
    parse_task,
    trim_plan,
)
from airloom.instructors.quiz import QuizConfig, QuizInstructor
from airloom.instructors.registry import available_instructors
from airloom.instructors.rules import RulesConfig, RulesInstructor, plan_rules
from airloom.instructors.summarization import SummarizationConfig, SummarizationInstructor
from airloom.instructors.theory_of_mind import TheoryOfMindInstructor
from airloom.instructors.verified import parse_field_blocks, strip_preamble
from airloom.runtime.functions import FunctionCall
from airloom.runtime.rewoo.prompt import build_planning_prompt
from airloom.runtime.tools.standard import standard_tools
from tests.support.instructor_context import Call, Cut, FakeContext, Reply, settings_for

GROUP_B = {
    "cot",
    "agent",
    "plan",
    "multiple_choice",
    "detailed_writing",
    "summarization",
    "rules",
    "mathjson",
    "log_extraction",
    "anonymization",
    "quiz",
    "theory_of_mind",
    "greeting",
}


def round_of(
    instructor_cls: type[Instructor],
    section: InstructorConfig,
    reply: Reply,
    *,
    batch_size: int = 3,
    seed: int = 0,
    duplicates: set[str] | None = None,
) -> tuple[list[Draft], FakeContext]:
    ctx = FakeContext(
        settings_for(instructor_cls.name, section, batch_size=batch_size),
        reply,
        seed=seed,
        duplicates=duplicates,
    )
    drafts = asyncio.run(instructor_cls(ctx.settings).run_round(ctx))
    return drafts, ctx


def reasons(ctx: FakeContext) -> Counter[str]:
    return Counter(ctx.reasons())


def test_registry_has_group_b_with_config_models() -> None:
    registry = available_instructors()
    assert set(registry) >= GROUP_B
    for name in GROUP_B:
        assert registry[name].name == name
        model = registry[name].config_model
        for field_name, field in model.model_fields.items():
            assert field.description, (name, field_name)
            assert not field.is_required(), (name, field_name)


# ---- shared parsers --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "complete", "incomplete"),
    [
        ("PERSONA: a\nGREETING: b\nRESPONSE: c", 1, 0),
        ("**PERSONA:** a\n**GREETING:** b\n**RESPONSE:** c\n\nPERSONA: d\nGREETING: e\n", 1, 1),
        ("Here you go!\n\n1. PERSONA: a\nGREETING: b\nRESPONSE: c", 1, 0),
        ("```\nPERSONA: a\nGREETING: b\nRESPONSE: c\n```", 1, 0),
        ("PERSONA: a\nRESPONSE: c", 0, 1),  # missing field
        ("PERSONA: a\nGREETING: b\nGREETING: again\nRESPONSE: c", 0, 2),  # repeated key
        ("no blocks at all", 0, 0),
        (
            "PERSONA 1: a\nGREETING 1: b\nRESPONSE 1: c\nPERSONA 2: d\nGREETING 2: e\nRESPONSE 2:",
            1,
            1,
        ),
    ],
)
def test_parse_field_blocks(text: str, complete: int, incomplete: int) -> None:
    blocks, bad = parse_field_blocks(text, ["PERSONA", "GREETING", "RESPONSE"])
    assert (len(blocks), bad) == (complete, incomplete)
    for block in blocks:
        assert "```" not in block["RESPONSE"]


def test_strip_preamble() -> None:
    assert strip_preamble("Certainly! Here is the summary:\nBees.") == "Bees."
    assert strip_preamble("Sure thing, no colon here.") == "Sure thing, no colon here."


# ---- cot -------------------------------------------------------------------------------------
GOOD_COT = """**Solution 1:**
Each day the snail gains one metre net, but the last climb ends it.
Final Answer: Day 8.

Solution 2:
Naive division gives 10 days.
Final answer: Day 10.

Ranking of solutions from best to worst:
1. Solution 1: accounts for the last climb.
2. Solution 2: ignores it.

Best and final answer: Day 8."""


def test_cot_round_keeps_only_the_exact_layout() -> None:
    def reply(call: Call) -> str:
        if call.key == "tasks":
            return (
                "Here are the tasks:\nTSK 1. Snail question one? Rank answers.\n"
                "TSK 2. Snail question two? Rank answers.\nTSK 3. Snail question three?"
            )
        if "question one" in call.prompt:
            return GOOD_COT
        if "question two" in call.prompt:
            return GOOD_COT.split("\n\nSolution 2:")[0]  # one solution only
        return "Solution 1:\nThink"  # truncated: no answer at all

    drafts, ctx = round_of(CotInstructor, InstructorConfig(), reply)
    assert len(drafts) == 1
    assert drafts[0].response.startswith("Solution 1:\n")
    assert "Final answer: Day 8." in drafts[0].response and "**" not in drafts[0].response
    assert reasons(ctx) == Counter({"failed_check": 2})
    responses = [c for c in ctx.calls if c.key == "response"]
    assert all(c.filtered is False for c in responses)
    assert all(
        c.prompt.rstrip().endswith(f"Input: Snail question {n}? Rank answers.")
        for c, n in zip(responses[:2], ("one", "two"), strict=True)
    )


# ---- agent -----------------------------------------------------------------------------------
def toolbox(count: int, target: int = 1, extra: str = "", broken: dict | None = None) -> str:
    functions = [
        {
            "name": f"tool_{i}",
            "description": f"Tool number {i}.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "A city."},
                    "days": {"type": "integer", "description": "How many days."},
                    "units": {
                        "type": "string",
                        "enum": ["metric", "imperial"],
                        "description": "Units.",
                    },
                },
                "required": ["city"],
            },
        }
        for i in range(count)
    ]
    if broken:
        functions[0]["parameters"].update(broken)
    body = {
        "functions": functions,
        "input": f"Weather in Oslo for {count} days?",
        "function": f"tool_{target}",
    }
    return f"{extra}```json\n{json.dumps(body, indent=2)}\n```"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (toolbox(4), None),
        (toolbox(4, extra="Sure! Here is the toolbox:\n"), None),
        (toolbox(2), "bad_functions"),  # fewer than min_functions
        (toolbox(10), "bad_functions"),  # more than max_functions
        (toolbox(4, target=7), "bad_functions"),  # the fitting function is not listed
        (toolbox(4)[:200], "unparseable"),  # truncated JSON
        ('{"functions": "none", "input": "x", "function": "a"}', "unparseable"),
        (
            '{"functions": [{"name": "a b", "description": "A."}, {"name": "c", "description": '
            '"C."}, {"name": "d", "description": "D."}], "input": "x", "function": "c"}',
            "bad_functions",
        ),  # a name that is not an identifier
        (
            '{"functions": [{"name": "a", "description": "A."}, {"name": "a", "description": '
            '"A."}, {"name": "d", "description": "D."}], "input": "x", "function": "a"}',
            "bad_functions",
        ),  # a name twice
        (toolbox(4).replace('"type": "integer"', '"type": "int"'), "bad_functions"),
        (toolbox(4, broken={"required": "city"}), "bad_functions"),
        (toolbox(4, broken={"properties": ["city"]}), "bad_functions"),
        (
            toolbox(4).replace('"input": "Weather in Oslo for 4 days?"', '"input": ""'),
            "unparseable",
        ),
        ("I could not think of any functions.", "unparseable"),
    ],
)
def test_parse_toolbox(text: str, reason: str | None) -> None:
    if reason is None:
        box = parse_toolbox(text, 3, 9)
        assert box.function == "tool_1" and len(box.registry) == 4
        return
    with pytest.raises(Rejected) as info:
        parse_toolbox(text, 3, 9)
    assert info.value.reason == reason


def agent_reply(wrong_on: int | None = None) -> Reply:
    def reply(call: Call) -> str:
        if call.key.startswith("toolbox:"):
            count = int(re.search(r"Invent exactly (\d+) functions", call.prompt).group(1))
            return toolbox(count)
        index = int(call.key.split(":")[1])
        name = "tool_0" if index == wrong_on else "tool_1"
        choice = {"function": name, "params": {"city": "Oslo", "days": 3}}
        if "in YAML format" in call.prompt:
            return "```yaml\nfunction: " + name + "\nparams:\n  city: Oslo\n  days: 3\n```"
        return "The best choice:\n" + json.dumps(choice)

    return reply


def test_agent_round_listing_formats_validation_and_meta() -> None:
    drafts, ctx = round_of(AgentInstructor, AgentConfig(), agent_reply(wrong_on=2), batch_size=4)
    assert len(drafts) == 3
    assert reasons(ctx) == Counter({"wrong_function": 1})
    for draft in drafts:
        fmt = draft.meta["format"]
        assert f"Provide your response in {fmt.upper()} format." in draft.instruction
        assert "\nInput: Weather in Oslo for" in draft.instruction
        assert "\nAvailable functions:\n" in draft.instruction
        names = [f["name"] for f in draft.meta["functions"]]
        assert 3 <= len(names) <= 9 and draft.meta["function"] == "tool_1"
        listed = re.findall(r"^(tool_\d+):$", draft.instruction, re.MULTILINE)
        assert listed == names  # the listing order is the stored order
        value = json.loads(draft.response) if fmt == "json" else yaml.safe_load(draft.response)
        assert value == {"function": "tool_1", "params": {"city": "Oslo", "days": 3}}
        assert draft.dedup_text and draft.dedup_text.startswith("Weather in Oslo")
    assert all(
        c.filtered == ("refusals" if c.key.startswith("answer") else False) for c in ctx.calls
    )


def test_agent_shuffles_position_and_honours_yaml_ratio() -> None:
    positions = set()
    for seed in range(12):
        drafts, _ = round_of(AgentInstructor, AgentConfig(yaml_ratio=1.0), agent_reply(), seed=seed)
        for draft in drafts:
            assert draft.meta["format"] == "yaml"
            positions.add([f["name"] for f in draft.meta["functions"]].index("tool_1"))
    assert len(positions) >= 4  # the right function moves around the list
    drafts, _ = round_of(AgentInstructor, AgentConfig(yaml_ratio=0.0), agent_reply())
    assert {d.meta["format"] for d in drafts} == {"json"}


def compose_agent_reply(call: Call) -> str:
    """A teacher for compose mode: item 0 leaves a value out of its request, item 1
    answers with a wrong value, the others do it right."""
    index = int(call.key.split(":")[1])
    if call.key.startswith("request:"):
        lines = [line[2:] for line in call.prompt.splitlines() if line.startswith("- ")]
        stated = lines[1:] if index == 0 else lines
        return "Message: Please do this for me; " + "; ".join(stated)
    request = call.prompt.split("Input: Please do this for me; ", 1)[1].split("\n", 1)[0]
    description = next(
        f for f in load_catalogue() if all(f"{k}:" in request for k in f["parameters"]["required"])
    )
    values: dict[str, object] = {}
    for pair in request.split("; "):
        key, _, shown = pair.partition(": ")
        kind = description["parameters"]["properties"][key]["type"]
        values[key] = (
            shown == "yes"
            if kind == "boolean"
            else float(shown)
            if kind == "number"
            else int(shown)
            if kind == "integer"
            else shown
        )
    if index == 1:
        values = {k: (f"{v} please" if isinstance(v, str) else v) for k, v in values.items()}
        values.setdefault("extra_note", "made up")
    return json.dumps({"function": description["name"], "params": values})


def test_agent_compose_keeps_only_calls_with_the_values_the_request_states() -> None:
    section = AgentConfig(mode="compose", yaml_ratio=0.0, min_functions=3, max_functions=5)
    drafts, ctx = round_of(AgentInstructor, section, compose_agent_reply, batch_size=4, seed=5)
    counts = reasons(ctx)
    assert counts["missing_values"] == 1
    assert counts["wrong_arguments"] + counts["invalid_call"] == 1
    assert len(drafts) == 2
    for draft in drafts:
        assert draft.meta["mode"] == "compose"
        call = json.loads(draft.response)
        assert call == {"function": draft.meta["function"], "params": draft.meta["values"]}
        assert 3 <= len(draft.meta["functions"]) <= 5
        assert not any(  # the drawn examples never reach the prompt or the record
            "examples" in spec
            for f in draft.meta["functions"]
            for spec in f["parameters"]["properties"].values()
        )
        assert "examples" not in draft.instruction
        assert check_function_call(
            make_record(instruction=draft.instruction, response=draft.response, meta=draft.meta)
        ).ok
    assert not any(c.key.startswith("toolbox:") for c in ctx.calls)


@pytest.mark.parametrize(
    ("reply", "values", "request_"),
    [
        (  # a number followed by a comma is still that number
            "Work out the interest on a principal of 25000, an annual rate of 4.2 for 3 years.",
            {"principal": 25000, "rate": 4.2, "years": 3},
            "Work out the interest on a principal of 25000, an annual rate of 4.2 for 3 years.",
        ),
        (  # a preamble ending in ":" is not the request; grouped thousands match
            'Here is a message a user might send:\n\n"Send 12,500.5 to Ana."',
            {"amount": 12500.5, "payee": "Ana"},
            "Send 12,500.5 to Ana.",
        ),
        (  # the first line stating every value wins over an earlier partial one
            "Send money to Ana.\nSend 40 to Ana.",
            {"amount": 40, "payee": "ana"},
            "Send 40 to Ana.",
        ),
    ],
)
def test_parse_request_finds_the_line_stating_every_value(
    reply: str, values: dict[str, object], request_: str
) -> None:
    assert parse_request(reply, values) == request_


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Send 250 to Ana.", "missing_values"),  # 25 is not 250
        ("Sure:", "no_question"),
        ("", "no_question"),
    ],
)
def test_parse_request_rejects(reply: str, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_request(reply, {"amount": 25, "payee": "Ana"})
    assert caught.value.reason.value == reason


def test_a_function_catalogue_with_a_bad_example_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "functions.yaml"
    bad.write_text(
        "- name: f\n  description: F.\n  parameters:\n    type: object\n    properties:\n"
        "      n: {type: integer, description: N., examples: [three]}\n    required: [n]\n"
        "- name: g\n  description: G.\n  parameters:\n    type: object\n    properties:\n"
        "      s: {type: string, description: S.}\n"
    )
    with pytest.raises(ConfigError, match=r"example 'three' of f\.n"):
        load_catalogue(bad)
    bad.write_text(bad.read_text().replace("[three]", "[3]"))
    with pytest.raises(ConfigError, match=r"g\.s needs a non-empty 'examples' list"):
        load_catalogue(bad)
    with pytest.raises(ConfigError, match="cannot read functions_path"):
        load_catalogue(tmp_path / "missing.yaml")


def test_agent_config_validates_range() -> None:
    with pytest.raises(ValueError, match="min_functions"):
        AgentConfig(min_functions=6, max_functions=4)


def test_serialise_call_round_trips_awkward_yaml_strings() -> None:
    call = FunctionCall("f", {"answer": "no", "time": "12:30", "code": "010"})
    assert yaml.safe_load(serialise_call(call, "yaml"))["params"] == call.arguments


# ---- plan ------------------------------------------------------------------------------------
TOOLS4 = (
    "TOOLS:\nSearch[input]: Finds pages.\nLinks[input]: Extracts links.\n"
    "Reader[input]: Loads pages.\nAsk[input]: Answers a question about a text."
)


@pytest.mark.parametrize(
    ("text", "tools", "question"),
    [
        (f"{TOOLS4}\nQUESTION: Who built it?", 4, "Who built it?"),
        (
            "**TOOLS:**\n- **Search[input]:** Finds.\n- Ask[input]: A.\n**QUESTION:** Why?",
            2,
            "Why?",
        ),
        (f"{TOOLS4}\nQuestion: When\nand where?", 4, "When and where?"),
        (f"{TOOLS4}\nSearch Engine[input]: another.\nQUESTION: Q?", 5, "Q?"),
    ],
)
def test_parse_task(text: str, tools: int, question: str) -> None:
    task = parse_task(text)
    assert len(task.tools) == tools and task.question == question


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (TOOLS4, "no QUESTION"),
        (f"{TOOLS4}\nQUESTION:   ", "no QUESTION"),
        (f"{TOOLS4}\nsearch[input]: dup\nQUESTION: Q?", "listed twice"),
    ],
)
def test_parse_task_rejects(text: str, detail: str) -> None:
    with pytest.raises(Rejected, match=detail):
        parse_task(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "```\nPlan: a\n:evidence0: = T[x]\nAnswer: :evidence0:\n```",
            "Plan: a\n:evidence0: = T[x]\nAnswer: :evidence0:",
        ),
        (
            "1. Plan: a\n:evidence0: = T[x]\n**Answer:** :evidence0:\nThanks!",
            "1. Plan: a\n:evidence0: = T[x]\n**Answer:** :evidence0:",
        ),
        ("no plan", "no plan"),
    ],
)
def test_trim_plan(text: str, expected: str) -> None:
    assert trim_plan(text) == expected


def plan_reply(call: Call) -> str:
    if call.key == "tasks":
        return (
            f"Sure.\nTSK 1.\n{TOOLS4}\nQUESTION: Who designed the Vara bridge, and when?\n"
            f"TSK 2.\n{TOOLS4}\nQUESTION: Which river is longest in Norway and why?\n"
            "TSK 3.\nTOOLS:\nSearch[input]: only one.\nAsk[input]: two.\nQUESTION: Too few?\n"
            "TSK 4."
        )
    if "Vara bridge" in call.prompt:
        return (
            "Here is the plan:\nPlan: search.\n:evidence0: = Search[Vara bridge designer]\n"
            "Plan: links.\n:evidence1: = Links[:evidence0:]\nPlan: read.\n"
            ":evidence2: = Reader[:evidence1:]\nPlan: ask.\n"
            ":evidence3: = Ask[Who designed it and when, given :evidence2:?]\n"
            "Answer: :evidence3:\nLet me know if you need more."
        )
    return "Plan: search.\n:evidence0: = Google[river]\nAnswer: :evidence0:"


def test_plan_round_validates_against_offered_tools() -> None:
    drafts, ctx = round_of(PlanInstructor, PlanConfig(), plan_reply, batch_size=4)
    assert len(drafts) == 1
    draft = drafts[0]
    tools = [
        ("Search", "Finds pages."),
        ("Links", "Extracts links."),
        ("Reader", "Loads pages."),
        ("Ask", "Answers a question about a text."),
    ]
    question = "Who designed the Vara bridge, and when?"
    assert draft.instruction == build_planning_prompt(question, tools, example=False)
    assert draft.response.startswith("Plan: search.") and draft.response.endswith(
        "Answer: :evidence3:"
    )
    assert draft.meta["tools"] == ["Search", "Links", "Reader", "Ask"]
    counts = reasons(ctx)
    assert counts["bad_tools"] == 1 and counts["failed_check"] == 1
    assert "unknown tool 'Google'" in dict(ctx.rejects)["failed_check"]
    teacher = [c.prompt for c in ctx.calls if c.key.startswith("plan:")]
    assert all("Here is an example of a complete plan" in p for p in teacher)
    _, ctx = round_of(PlanInstructor, PlanConfig(show_example=False), plan_reply, batch_size=4)
    teacher = [c.prompt for c in ctx.calls if c.key.startswith("plan:")]
    assert teacher and not any("Here is an example" in p for p in teacher)


def compose_plan_reply(call: Call) -> str:
    if call.key.startswith("question:"):
        index = int(call.key.split(":")[1])
        return [
            "Sure! Here is a question:\n**Question:** When did the Kiel Canal open?",
            "The Kiel Canal is in Germany.",  # no question
            "1. Who won the Nobel Prize in Literature in 2020 and what is their most famous work?",
            "Who painted the Lisbon murals?",
        ][index]
    if "Lisbon murals" in call.prompt.rsplit("Question:", 1)[1]:  # follows the worked example
        return (
            "Plan: search.\n:evidence0: = DuckDuckGo[Lisbon murals painter]\n"
            "Plan: more.\n:evidence1: = DuckDuckGo[Most famous work of :evidence0:]\n"
            "Answer: :evidence1:"
        )
    return (
        "Plan: search.\n:evidence0: = DuckDuckGo[Kiel Canal opening year]\n"
        "Plan: read.\n:evidence1: = TextScraper[:evidence0:]\n"
        "Plan: answer.\n:evidence2: = KnowledgeModel[When did it open, given :evidence1:?]\n"
        "Answer: :evidence2:"
    )


def test_plan_compose_offers_the_runtime_tools_and_asks_only_for_a_question() -> None:
    section = PlanConfig(mode="compose", record_example=True)
    drafts, ctx = round_of(PlanInstructor, section, compose_plan_reply, batch_size=4)
    assert len(drafts) == 1
    draft = drafts[0]
    assert sorted(draft.meta["tools"]) == sorted(name for name, _ in standard_tools())
    tools = [dict(standard_tools())[name] for name in draft.meta["tools"]]
    question = "When did the Kiel Canal open?"
    expected = build_planning_prompt(question, list(zip(draft.meta["tools"], tools, strict=True)))
    assert draft.instruction == expected  # the worked example kept, as the runtime sends it
    assert check_plan(make_record(instruction=draft.instruction, response=draft.response)).ok
    counts = reasons(ctx)
    assert counts["no_question"] == 1 and counts["copied_prompt"] == 1
    assert "famous, work" in dict(ctx.rejects)["copied_example"]
    assert not any(c.key == "tasks" for c in ctx.calls)  # the teacher writes no task list
    asked = [c.prompt for c in ctx.calls if c.key.startswith("question:")]
    assert len(asked) == 4 and all("one question about" in p for p in asked)


@pytest.mark.parametrize(
    ("cut_after", "kept"),
    [("\n\nQUESTION: And who", True), (None, False)],  # ran on past its answer / cut before
)
def test_plan_keeps_a_cut_reply_only_when_its_answer_line_is_whole(
    cut_after: str | None, kept: bool
) -> None:
    plan = (
        "Plan: search.\n:evidence0: = DuckDuckGo[Kiel Canal opening year]\n"
        "Plan: answer.\n:evidence1: = KnowledgeModel[When did it open, given :evidence0:?]\n"
        "Answer: :evidence1:"
    )

    def reply(call: Call) -> str:
        if call.key.startswith("question:"):
            return "When did the Kiel Canal open?"
        return Cut(plan + cut_after if cut_after else plan[:60])

    drafts, ctx = round_of(PlanInstructor, PlanConfig(mode="compose"), reply, batch_size=1)
    assert [d.response for d in drafts] == ([plan] if kept else [])
    assert reasons(ctx) == (Counter() if kept else Counter({"truncated": 1}))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("The canal opened in 1895.", "no_question"),
        ("Why?", "no_question"),
        ("Question: " + "very " * 40 + "long?", "no_question"),
    ],
)
def test_parse_plan_question_rejects(text: str, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_plan_question(text, "")
    assert caught.value.reason == reason


# ---- multiple choice -------------------------------------------------------------------------
def test_multiple_choice_round_checks_answer_key() -> None:
    def reply(call: Call) -> str:
        return (
            "QUESTION: Which gas do plants absorb?\nA) Oxygen\nB) Carbon dioxide\nC) Neon\n"
            "D) Argon\nANSWER: B) Carbon dioxide\n\n"
            "QUESTION: Which metal is liquid at room temperature?\nA) Iron\nB) Mercury\n"
            "C) Tin\nD) Lead\nANSWER: E) Gallium\n\n"
            "QUESTION: 2+2?\nA) 3\nB) 4\nC) 5\nD) 6\nANSWER: A) 4\n\n"
            "QUESTION: Truncated question with no answer"
        )

    drafts, ctx = round_of(MultipleChoiceInstructor, MultipleChoiceConfig(), reply, batch_size=4)
    assert [d.response for d in drafts] == ["B) Carbon dioxide"]
    assert reasons(ctx) == Counter({"failed_check": 2})
    prompt = ctx.calls[0].prompt
    assert prompt.count("- QUESTION ") == 4 and "FLESCH-HINT" in prompt
    assert ' * QUESTION 1 must be related to topic: "volcanoes"' in prompt


def test_multiple_choice_answer_letters_fit_option_counts() -> None:
    config = MultipleChoiceConfig(five_option_ratio=0.5, contextual_ratio=0.5)
    seen = Counter()
    for seed in range(200):
        ctx = FakeContext(
            settings_for("multiple_choice", config, batch_size=5), lambda call: "", seed=seed
        )
        lines = MultipleChoiceInstructor(ctx.settings).template_values(ctx)["question_lines"]
        for line in lines.splitlines():
            count = int(re.search(r"has (\d) options", line).group(1))
            letter = re.search(r"must be option ([A-E])", line).group(1)
            assert "ABCDE".index(letter) < count
            seen[count] += 1
            seen["context"] += "opens with a paragraph" in line
    assert 0.4 < seen[5] / 1000 < 0.6 and 0.4 < seen["context"] / 1000 < 0.6


# ---- detailed writing ------------------------------------------------------------------------
def writing_reply(short_on: str = "") -> Reply:
    def reply(call: Call) -> str:
        if call.key.startswith("task:"):
            return f"Sure, here is a new task:\nWrite a long tale about a lighthouse {call.key}."
        words = int(re.search(r"(?:now|of \d+): about (\d+) words", call.prompt).group(1))
        if short_on and call.key.startswith(short_on):
            words //= 4
        return " ".join(["wave"] * words)

    return reply


def test_detailed_writing_round_parts_history_and_true_length() -> None:
    config = DetailedWritingConfig(word_count=300, word_count_jitter=0.0, parts=3)
    drafts, ctx = round_of(DetailedWritingInstructor, config, writing_reply(), batch_size=2)
    assert len(drafts) == 2
    for draft in drafts:
        task, target = draft.instruction.split("\n\n")
        assert task.startswith("Write a long tale about a lighthouse task:")
        assert target == "Your response should be approximately 300 words."
        assert count_words(draft.response) == 300 and draft.response.count("\n\n") == 2
        assert draft.meta["length_tolerance"] == 0.25 and draft.dedup_text == task
    parts = [c for c in ctx.calls if c.key.startswith("part:0:")]
    assert [len(c.history) for c in parts] == [0, 2, 4]
    assert "Write only part 1 now" in parts[0].prompt and "FLESCH-HINT" in parts[0].prompt
    assert "This is the final part" in parts[2].prompt
    assert all(c.filtered is False for c in parts)


def test_detailed_writing_rejects_wrong_length_and_rewrites() -> None:
    config = DetailedWritingConfig(word_count=300, word_count_jitter=0.0, parts=3)
    drafts, ctx = round_of(
        DetailedWritingInstructor, config, writing_reply("part:1:"), batch_size=2
    )
    assert len(drafts) == 1 and reasons(ctx) == Counter({"wrong_length": 1})
    rewrite = DetailedWritingConfig(word_count=120, word_count_jitter=0.0, parts=2, rewrite=True)

    def reply(call: Call) -> str:
        if call.key.startswith("rewrite:"):
            assert "wave wave" in call.prompt
            return "Here is the rewritten text:\n" + " ".join(["polished"] * 117)
        return writing_reply()(call)

    drafts, _ = round_of(DetailedWritingInstructor, rewrite, reply, batch_size=1)
    assert drafts[0].response.startswith("polished")
    assert drafts[0].instruction.endswith("approximately 120 words.")  # 117 rounds to 120


def test_detailed_writing_seeds(tmp_path) -> None:
    assert len(load_seeds(None)) == 3
    (tmp_path / "b.txt").write_text("Second seed.")
    (tmp_path / "a.txt").write_text("First seed.")
    assert load_seeds(str(tmp_path)) == ["First seed.", "Second seed."]
    with pytest.raises(Exception, match="not a folder"):
        load_seeds(str(tmp_path / "missing"))


# ---- summarization ---------------------------------------------------------------------------
def test_summarization_round_layout_and_length_check() -> None:
    def reply(call: Call) -> str:
        if call.key.startswith("source:"):
            if call.key == "source:2":
                return "Too short."
            return "Here is the text:\n" + " ".join(["harbour"] * 200)
        words = int(re.search(r"about (\d+) words", call.prompt).group(1))
        return " ".join(["gist"] * (words * 2 if call.key == "summary:1" else words))

    drafts, ctx = round_of(SummarizationInstructor, SummarizationConfig(), reply)
    assert len(drafts) == 1
    prompt = parse_closed_context(drafts[0].instruction)
    assert prompt.blocks[0].text == " ".join(["harbour"] * 200)
    assert re.fullmatch(r"Summarize the input in around \d+ words\.", prompt.instruction)
    assert reasons(ctx) == Counter({"source_too_short": 1, "failed_check": 1})


# ---- rules -----------------------------------------------------------------------------------
def comply(rules: Sequence[Rule]) -> str:
    """An answer obeying any compatible rule set (used to script the teacher)."""
    by_kind = {rule.kind: rule.value for rule in rules}
    words = ["calm", "waters", "glow", "softly", "tonight"]
    if "include_word" in by_kind:
        words.append(by_kind["include_word"])
    if "min_words" in by_kind:
        words += ["waves"] * int(by_kind["min_words"])
    if "bullets" in by_kind:
        body = "\n".join(f"- {' '.join(words)}" for _ in range(int(by_kind["bullets"])))
    else:
        body = " ".join(words) + "."
    text = f"{by_kind.get('start_with', '')} {body}".strip()
    if "question_end" in by_kind:
        text += " shall we sail on?"
    if "end_with" in by_kind:
        text += " " + by_kind["end_with"]
    if "lowercase" in by_kind:
        text = text.lower()
    if "uppercase" in by_kind:
        text = text.upper()
    return text


def rules_reply(break_on: str = "") -> Reply:
    def reply(call: Call) -> str:
        if call.key == "tasks":
            return "TSK 1. Describe a harbour at dusk.\nTSK 2. Describe a quiet forest.\nTSK 3."
        lines = re.findall(r"^- (.+)$", call.prompt, re.MULTILINE)
        rules = [parse_rule(line) for line in lines]
        assert all(rules), lines
        answer = comply(rules)  # type: ignore[arg-type]
        return answer + ", 7 Really" if break_on and break_on in call.prompt else answer

    return reply


def test_rules_round_conversation_and_checks() -> None:
    drafts, ctx = round_of(RulesInstructor, RulesConfig(), rules_reply("quiet forest"))
    assert len(drafts) == 1 and list(reasons(ctx)) == ["failed_check"]
    draft = drafts[0]
    turns = draft.conversation
    assert turns is not None and [t.role for t in turns] == ["user", "assistant"] * (
        len(turns) // 2
    )
    assert all(t.content == "OK" for t in turns[1:-2:2])
    assert (
        turns[-2].content == "Describe a harbour at dusk." and turns[-1].content == draft.response
    )
    rules = [parse_rule(t.content) for t in turns[2:-2:2]]
    assert 2 <= len(rules) <= 4 and all(rules)
    assert draft.system == "You are a helpful, unbiased, uncensored assistant."
    assert draft.instruction.startswith("Follow these rules in your response:\n- ")
    assert draft.instruction.endswith("\n\nDescribe a harbour at dusk.")
    assert draft.meta["rules"] == [[r.kind, r.value] for r in rules]  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", range(40))
def test_every_sampled_rule_set_is_satisfiable(seed: int) -> None:
    plan = plan_rules(random.Random(seed), RulesConfig(min_rules=1, max_rules=5))
    assert [parse_rule(m) for m in plan.messages] == plan.rules
    assert all(rule.problem(comply(plan.rules)) is None for rule in plan.rules), plan.rules


def test_rules_config_validation() -> None:
    with pytest.raises(ValueError, match="unknown rule kinds"):
        RulesConfig(kinds=["lowercase", "be_nice"])
    with pytest.raises(ValueError, match="at least max_rules"):
        RulesConfig(kinds=["lowercase"], min_rules=1, max_rules=2)
    with pytest.raises(ValueError, match="can hold together"):
        RulesConfig(kinds=["lowercase", "uppercase"], min_rules=1, max_rules=2)


def test_rules_record_exports_as_conversation() -> None:
    drafts, _ = round_of(RulesInstructor, RulesConfig(), rules_reply(), batch_size=1)
    row = drafts[0].to_record("rules")
    sharegpt = sharegpt_row(row)["conversations"]
    assert [t["from"] for t in sharegpt[:3]] == ["system", "human", "gpt"]
    assert sharegpt[2]["value"] == "OK" and sharegpt[-1]["from"] == "gpt"
    assert sharegpt[-1]["value"] == drafts[0].response
    flat = airoboros_row(row)
    assert flat["instruction"].startswith("Follow these rules") and "system" in flat


# ---- mathjson --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "good", "bad"),
    [
        ("PROBLEM: 2 times 3?\nANSWER: 6", 1, 0),
        ("Sure!\n**PROBLEM 1:** 2 times 3?\n**ANSWER 1:** 6\nPROBLEM 2: x?\nANSWER 2: seven", 1, 1),
        ("PROBLEM: a?\nANSWER: 1,250.5 dollars\nPROBLEM: cut off", 1, 0),
        ("PROBLEM: a?\nPROBLEM: b?\nANSWER: 3", 1, 0),
        ("QUESTION: wrong labels\nANSWER: 3", 0, 0),
    ],
)
def test_parse_problems(text: str, good: int, bad: int) -> None:
    problems, rejects = parse_problems(text)
    assert (len(problems), len(rejects)) == (good, bad)


def test_mathjson_round_evaluates_and_compares() -> None:
    def reply(call: Call) -> str:
        if call.key == "problems":
            return (
                "PROBLEM: A garden is a circle of radius 4 m. What is its area?\nANSWER: 50.27\n"
                "PROBLEM: Tom has 3 bags of 12 apples. How many apples?\nANSWER: 36\n"
                "PROBLEM: How far is far?\nANSWER: very far\n"
            )
        if "A garden is a circle" in call.prompt:
            return (
                "The area is pi r^2.\nSolution as MathJSON:\n<mathjson>\n"
                '["Multiply", "Pi", ["Power", 4, 2]]\n</mathjson>'
            )
        return '3 bags of 12.\n<mathjson>["Add", 3, 12]</mathjson>'  # wrong: 15

    drafts, ctx = round_of(MathJSONInstructor, MathJSONConfig(), reply)
    assert len(drafts) == 1
    draft = drafts[0]
    assert draft.instruction == (
        "Create a MathJSON solution to the following: A garden is a circle of radius 4 m. "
        "What is its area?"
    )
    assert draft.meta["expected"] == 50.27 and abs(draft.meta["value"] - 50.265) < 0.01
    assert reasons(ctx) == Counter({"no_numeric_answer": 1, "failed_check": 1})
    assert "evaluates to 15, expected 36" in dict(ctx.rejects)["failed_check"]
    assert ctx.calls[0].prompt.count("- PROBLEM ") == 3


# ---- log extraction --------------------------------------------------------------------------
def truthful_answer(instruction: str) -> str:
    prompt = parse_closed_context(instruction)
    entries = parse_log(prompt.blocks[0].text)
    question, params = parse_question(prompt.instruction)  # type: ignore[misc]
    truth = expected_answer(question, params, entries)
    if isinstance(truth, int):
        what = f"{params['method']} requests" if "method" in params else "successful logins"
        return f"The log shows {truth} {what}."
    return "The answer: " + ", ".join(sorted(truth)) + "."


def test_log_extraction_items_cover_formats_and_questions() -> None:
    seen = Counter()
    for seed in range(300):
        instruction, name = make_item(random.Random(seed), LogExtractionConfig())  # type: ignore[misc]
        seen[name] += 1
        prompt = parse_closed_context(instruction)
        lines = prompt.blocks[0].text.splitlines()
        assert 8 <= len(lines) <= 20 and len(parse_log(prompt.blocks[0].text)) == len(lines)
        assert prompt.blocks[0].metadata["source"].startswith("/var/log/")
        question, params = parse_question(prompt.instruction)  # type: ignore[misc]
        assert question.name == name
        assert expected_answer(question, params, parse_log(prompt.blocks[0].text))
    assert set(seen) == set(QUESTIONS)


def test_log_extraction_round_checks_answers() -> None:
    def reply(call: Call) -> str:
        instruction = call.prompt.split("\n\nAnswer using only the log above.")[0]
        if call.key == "answer:1":
            return "I am not sure, maybe 999.1.1.1 or 42000."
        return truthful_answer(instruction)

    drafts, ctx = round_of(LogExtractionInstructor, LogExtractionConfig(), reply)
    assert len(drafts) == 2 and reasons(ctx) == Counter({"failed_check": 1})
    assert all(d.meta["question"] in QUESTIONS for d in drafts)
    assert all(c.prompt.startswith("BEGININPUT") for c in ctx.calls)


# ---- anonymization ---------------------------------------------------------------------------
def anonymization_reply(drop_on: str = "", leak_on: str = "") -> Reply:
    def reply(call: Call) -> str:
        if call.key.startswith("text:"):
            entities = re.findall(
                r"^- (?:person|IP address|date): (.+)$", call.prompt, re.MULTILINE
            )
            if call.key == drop_on:
                entities = entities[1:]
            return "Here is the text:\n" + " ".join(
                f"Note {i} mentions {e} in the quarterly report for the team."
                for i, e in enumerate(entities)
            )
        text = call.prompt.split("\n\n")[1]
        targets = re.search(r"items to remove: (.+?)\. Keep", call.prompt).group(1).split("; ")
        if call.key == leak_on:
            targets = targets[1:]
        for target in targets:
            text = text.replace(target, "[REDACTED]")
        return text

    return reply


def test_anonymization_round_entities_and_checks() -> None:
    drafts, ctx = round_of(
        AnonymizationInstructor,
        AnonymizationConfig(),
        anonymization_reply(drop_on="text:0", leak_on="rewrite:2"),
        batch_size=4,
    )
    assert len(drafts) == 2
    assert reasons(ctx) == Counter({"entities_missing": 1, "failed_check": 1})
    for draft in drafts:
        _, text = draft.instruction.split("\n\n", 1)
        assert not text.startswith("Here is the text")
        assert all(name in text for name in draft.meta["names"])
        kinds = draft.meta["kinds"]
        assert kinds and set(kinds) <= {"names", "ips", "dates"}
        for kind in ("names", "ips", "dates"):
            for entity in draft.meta[kind]:
                assert (entity in draft.response) is (kind not in kinds)


# ---- quiz, theory of mind, greeting ----------------------------------------------------------
def test_quiz_round() -> None:
    def reply(call: Call) -> str:
        sizes = [int(n) for n in re.findall(r"quiz of exactly (\d+) questions", call.prompt)]
        blocks = []
        for i, size in enumerate(sizes):
            made = size if i != 1 else size - 1  # the second quiz is one question short
            questions = "\n".join(f"{n}. Question {n} about tea?" for n in range(1, made + 1))
            key_lines = "\n".join(f"{n}. Answer {n}" for n in range(1, made + 1))
            blocks.append(
                f"REQUEST: Give me a {size}-question quiz on tea.\n"
                f"QUIZ: {questions}\n\nAnswer key:\n{key_lines}"
            )
        return "\n\n".join(blocks)

    drafts, ctx = round_of(QuizInstructor, QuizConfig(), reply)
    assert len(drafts) == 2 and reasons(ctx) == Counter({"failed_check": 1})
    assert all("Question 1 about tea?" in d.response for d in drafts)


def test_theory_of_mind_round() -> None:
    def reply(call: Call) -> str:
        return (
            "QUESTION: Ana hides a coin; Ben moves it. Where will Ana look?\n"
            "ANSWER: Where she hid it, since she did not see Ben move it.\n"
            "QUESTION: Truncated"
        )

    drafts, ctx = round_of(TheoryOfMindInstructor, InstructorConfig(), reply)
    assert [d.response for d in drafts] == ["Where she hid it, since she did not see Ben move it."]
    assert "theory of mind" in ctx.calls[0].prompt


def test_greeting_round_and_export() -> None:
    def reply(call: Call) -> str:
        return (
            "PERSONA: You are Captain Mara, a   cheerful ferry pilot.\nGREETING: Hello!\n"
            "RESPONSE: Ahoy, friend! Welcome aboard.\n\n"
            "PERSONA: You are a librarian.\nGREETING: Hi\n"
        )

    drafts, ctx = round_of(GreetingInstructor, InstructorConfig(), reply)
    assert len(drafts) == 1 and reasons(ctx) == Counter({"unparseable": 1})
    draft = drafts[0]
    assert draft.system == "You are Captain Mara, a cheerful ferry pilot."
    row = draft.to_record("greeting")
    assert airoboros_row(row)["system"] == draft.system
    assert [t["from"] for t in sharegpt_row(row)["conversations"]] == ["system", "human", "gpt"]
    _, bad = round_of(GreetingInstructor, InstructorConfig(), lambda call: "No greetings.")
    assert reasons(bad) == Counter({"unparseable": 1})


# ---- determinism and duplicates --------------------------------------------------------------
CASES: list[tuple[type[Instructor], InstructorConfig, Reply]] = [
    (AgentInstructor, AgentConfig(), agent_reply()),
    (RulesInstructor, RulesConfig(), rules_reply()),
    (
        LogExtractionInstructor,
        LogExtractionConfig(),
        lambda call: truthful_answer(call.prompt.split("\n\nAnswer using")[0]),
    ),
    (AnonymizationInstructor, AnonymizationConfig(), anonymization_reply()),
    (DetailedWritingInstructor, DetailedWritingConfig(word_count=90, parts=2), writing_reply()),
]


@pytest.mark.parametrize(("cls", "config", "reply"), CASES)
def test_rounds_are_deterministic_given_the_seed(
    cls: type[Instructor], config: InstructorConfig, reply: Reply
) -> None:
    first, ctx1 = round_of(cls, config, reply, seed=5)
    second, ctx2 = round_of(cls, config, reply, seed=5)
    assert first and [d.instruction for d in first] == [d.instruction for d in second]
    assert [d.response for d in first] == [d.response for d in second]
    assert sorted(c.prompt for c in ctx1.calls) == sorted(c.prompt for c in ctx2.calls)
    other, _ = round_of(cls, config, reply, seed=6)
    assert [d.instruction for d in other] != [d.instruction for d in first]


def test_duplicates_are_skipped_without_a_second_reject() -> None:
    drafts, ctx = round_of(AgentInstructor, AgentConfig(), agent_reply(), batch_size=2)
    seen = {d.dedup_text or "" for d in drafts}
    assert len(drafts) == 2
    again, ctx = round_of(
        AgentInstructor, AgentConfig(), agent_reply(), batch_size=2, duplicates=seen
    )
    assert again == [] and ctx.rejects == []  # the engine's novelty check counts duplicates
    assert not any(c.key.startswith("answer:") for c in ctx.calls)


def weak_plan_reply(call: Call) -> str:
    """A weak teacher: the example's own question, a tool name in another case, and
    further example plans written after the answer."""
    if call.key == "tasks":
        example = (
            "Who won the Nobel Prize in Literature in 2020 and what is their most famous work?"
        )
        return (
            f"TSK 1.\n{TOOLS4}\nQUESTION: {example}\n"
            f"TSK 2.\n{TOOLS4.replace('Search[', 'SEARCH[')}\nQUESTION: Who built the Vara dam?\n"
            f"TSK 3.\n{TOOLS4}\nQUESTION: Which fjord is deepest, and how deep is it?"
        )
    plan = (
        "Plan: search.\n:evidence0: = Search[{q}]\nPlan: read.\n"
        ":evidence1: = Reader[:evidence0:]\nPlan: ask.\n"
        ":evidence2: = Ask[What is the answer, given :evidence1:?]\nAnswer: :evidence2:"
    )
    return plan.format(q="deepest fjord") + "\n\nQUESTION: Another?\n" + plan.format(q="x")


def test_plan_round_rejects_what_a_weak_teacher_slips_through() -> None:
    drafts, ctx = round_of(PlanInstructor, PlanConfig(), weak_plan_reply, batch_size=3)
    counts = reasons(ctx)
    assert counts["copied_prompt"] == 1
    assert "the plan calls 'Search', the task offers 'SEARCH'" in dict(ctx.rejects)["failed_check"]
    assert [d.dedup_text for d in drafts] == ["Which fjord is deepest, and how deep is it?"]
    assert drafts[0].response.count("Answer:") == 1
    assert drafts[0].response.endswith("Answer: :evidence2:")
