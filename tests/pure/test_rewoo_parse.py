"""Edge cases of reWOO plan parsing and validation (the reference's §1a table, rows 1–32)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from airloom.errors import PlanError
from airloom.runtime.plan_ir import Ref
from airloom.runtime.rewoo.compile import compile_text, render
from airloom.runtime.rewoo.parse import ParseOptions, parse_plan
from airloom.runtime.rewoo.validate import PlanLimits, validate_plan

CARD_TOOLS = ["DuckDuckGo", "TextScraper", "HyperlinkExtractor", "KnowledgeModel"]
ANY_TOOLS = [
    *CARD_TOOLS,
    "Google",
    "Google Search",
    "Scraper",
    "LLM",
    "QA",
    "Wikipedia",
    "Text-Scraper",
]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rewoo"
CARD_PLAN = (FIXTURES / "card_plan.txt").read_text(encoding="utf-8")


def steps_of(text: str, **kw) -> list[tuple[int, str, str]]:
    return [(s.id, s.tool, s.raw_input) for s in parse_plan(text, **kw).steps]


def valid(text: str, offered=ANY_TOOLS, **kw):
    return validate_plan(parse_plan(text), offered=offered, **kw)


def problems(text: str, offered=ANY_TOOLS, **kw) -> list[str]:
    with pytest.raises(PlanError) as info:
        validate_plan(parse_plan(text), offered=offered, **kw)
    assert info.value.problems, "a PlanError must list its problems"
    return info.value.problems


def test_card_example_parses_completely():
    plan = parse_plan(CARD_PLAN)
    assert [s.id for s in plan.steps] == [0, 1, 2, 3, 4, 5]
    assert [s.tool for s in plan.steps] == [
        "DuckDuckGo",
        "KnowledgeModel",
        "DuckDuckGo",
        "HyperlinkExtractor",
        "TextScraper",
        "KnowledgeModel",
    ]
    assert (
        plan.steps[5].raw_input == "What is the most famous work of :evidence1:, given :evidence4:?"
    )
    assert plan.steps[0].plan_text.startswith("Begin by conducting a web search")
    assert plan.answer.kind == "ref" and plan.answer.parts == (Ref(5, "colon", ":evidence5:"),)
    assert plan.problems == () and plan.warnings == ()
    checked = validate_plan(plan, offered=CARD_TOOLS)
    assert checked.order == (0, 1, 2, 3, 4, 5)
    assert checked.steps[5].deps == (1, 4)


# --- 1, 2: numbering from 0 or 1, gaps -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        (":evidence0: = Google[a]\nAnswer: :evidence0:", [0]),
        ("#E1 = Google[a]\nFinal answer: #E1", [1]),
        ("#E7 = Google[a]\n#E3 = LLM[#E7]\nFinal answer: #E3", [7, 3]),
    ],
)
def test_ids_are_labels_not_indexes(text, ids):
    assert [s.id for s in parse_plan(text).steps] == ids
    assert valid(text).order == tuple(ids)


def test_gaps_are_allowed_with_a_warning():
    plan = valid(":evidence0: = Google[a]\n:evidence2: = LLM[:evidence0:]\nAnswer: :evidence2:")
    assert plan.order == (0, 2)
    assert any("gaps" in w for w in plan.warnings)


# --- 3, 4, 5, 6: duplicates, undefined, forward refs, cycles, mixed syntax ---------------------


def test_duplicate_definition_is_rejected():
    found = problems(":evidence2: = Google[a]\n:evidence2: = Google[b]\nAnswer: :evidence2:")
    assert found == [":evidence2: is defined twice (lines 1 and 2); give each step its own id"]


def test_undefined_reference_is_rejected_never_blank():
    found = problems(
        ":evidence0: = Google[a]\n:evidence1: = LLM[x :evidence7:]\nAnswer: :evidence1:"
    )
    assert len(found) == 1 and "':evidence7:', which no step defines" in found[0]


def test_forward_reference_is_allowed_when_acyclic():
    plan = valid(
        ":evidence1: = LLM[sum up :evidence2:]\n:evidence2: = Google[x]\nAnswer: :evidence1:"
    )
    assert plan.order == (2, 1)
    assert any("refers forward" in w for w in plan.warnings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            ":evidence1: = Google[:evidence2:]\n:evidence2: = LLM[:evidence1:]\n"
            "Answer: :evidence2:",
            "circular dependency: :evidence1: -> :evidence2: -> :evidence1:",
        ),
        (
            ":evidence1: = Google[:evidence1:]\nAnswer: :evidence1:",
            "line 1: :evidence1: refers to itself",
        ),
        (
            "#E1 = A[#E3]\n#E2 = A[#E1]\n#E3 = A[#E2]\nFinal answer: #E3",
            "circular dependency: :evidence1: -> :evidence3: -> :evidence2: -> :evidence1:",
        ),
    ],
)
def test_cycles_and_self_references_are_errors(text, expected):
    assert expected in problems(text, offered=[*ANY_TOOLS, "A"])


def test_mixed_syntax_maps_by_number_with_warning():
    plan = valid("#E1 = Google[x]\n:evidence2: = LLM[given :evidence1:]\nAnswer: :evidence2:")
    assert plan.steps[2].deps == (1,)
    assert any("mixed" in w for w in plan.warnings)


def test_mixed_syntax_defined_twice_is_an_error():
    found = problems("#E1 = Google[x]\n:evidence1: = Google[y]\nAnswer: :evidence1:")
    assert "both #E and :evidence: forms" in found[0]


# --- 7, 8, 9: missing colon, template echo, case ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref_id"),
    [
        ("Given context :evidence0", 0),
        ("Given context :evidence0.", 0),
        ("see :evidence[3]: now", 3),
        ("see :Evidence12: now", 12),
        ("see #e4 now", 4),
        ("see #E[2]", 2),
    ],
)
def test_reference_spellings(text, ref_id):
    refs = [p for p in compile_text(text) if isinstance(p, Ref)]
    assert [r.id for r in refs] == [ref_id]


@pytest.mark.parametrize(
    "answer",
    [
        "Answer: [:evidence5: containing the final answer.]",
        "answer: :evidence5:",
        "final Answer: :Evidence5:",
        "FINAL ANSWER: #E5",
        "**Answer:** `:evidence5:`",
        "Answer: :evidence[5]:",
        "Answer: :evidence5",
    ],
)
def test_answer_variants_resolve_to_one_ref(answer):
    plan = parse_plan(f":evidence5: = Google[x]\n{answer}")
    assert plan.answer.kind == "ref"
    assert [p.id for p in plan.answer.parts if isinstance(p, Ref)] == [5]


def test_literal_template_placeholder_is_an_error():
    found = problems(
        ":evidence0: = Google[x]\nAnswer: [:evidence[n]: containing the final answer.]"
    )
    assert any("unfilled template ':evidence[n]:'" in p for p in found)


def test_placeholder_inside_an_input_is_an_error():
    found = problems(":evidence0: = LLM[summarise :evidence[n]:]\nAnswer: :evidence0:")
    assert any("unfilled placeholder" in p for p in found)


def test_case_insensitive_labels_and_refs():
    assert steps_of("PLAN: x\n:EVIDENCE0: = google[q]\nanswer: :evidence0:") == [(0, "google", "q")]


# --- 10, 11, 12: bracketed call, odd tool names, parentheses -------------------------------------


def test_whole_call_bracketed():
    plan = parse_plan(
        ":evidence1: = [KnowledgeModel[Who is it, given :evidence0:?]]\n:evidence0: = DuckDuckGo[q]"
    )
    assert plan.steps[0].tool == "KnowledgeModel"
    assert plan.steps[0].raw_input == "Who is it, given :evidence0:?"
    assert "bracketed_call" in plan.steps[0].flags
    assert plan.warnings == ()


def test_seed_format_line_without_a_tool_is_a_clear_problem():
    text = (
        ':evidence1: = [next function to call and input parameter, e.g. "Given context :evidence0"]'
    )
    found = problems(text)
    assert any("no Tool[input] call" in p for p in found)


@pytest.mark.parametrize(
    ("line", "tool", "key"),
    [
        (":evidence0: = Google Search[q]", "Google Search", "googlesearch"),
        (":evidence0: = Text-Scraper[q]", "Text-Scraper", "textscraper"),
        (":evidence0: = textscraper[q]", "textscraper", "textscraper"),
        (":evidence0: = Web.Search_v2[q]", "Web.Search_v2", "websearchv2"),
        (":evidence0: = DuckDuckGo [q]", "DuckDuckGo", "duckduckgo"),
    ],
)
def test_tool_names_with_spaces_dashes_dots(line, tool, key):
    step = parse_plan(line).steps[0]
    assert (step.tool, step.tool_key, step.raw_input) == (tool, key, "q")


def test_tool_names_resolve_only_against_offered_tools():
    text = ":evidence0: = Text-Scraper[http://a.example]\nAnswer: :evidence0:"
    assert valid(text, offered=["TextScraper"]).order == (0,)
    found = problems(text, offered=["DuckDuckGo", "KnowledgeModel"])
    assert found == [
        "line 1: :evidence0: uses unknown tool 'Text-Scraper' (offered: duckduckgo, knowledgemodel)"
    ]


def test_call_with_parentheses():
    step = parse_plan(":evidence0: = DuckDuckGo(query about (nested) things)").steps[0]
    assert (step.tool, step.raw_input) == ("DuckDuckGo", "query about (nested) things")
    assert "paren_call" in step.flags


# --- 13, 14, 15, 16, 17, 18: input shapes ----------------------------------------------------


def test_brackets_inside_input_are_balanced():
    text = ":evidence3: = KnowledgeModel[What does [citation needed] imply, given :evidence2:?]"
    assert steps_of(text)[0][2] == "What does [citation needed] imply, given :evidence2:?"


def test_unbalanced_bracket_falls_back_to_last_closer_and_is_flagged():
    plan = parse_plan(
        ":evidence2: = LLM[Is [1 a valid list, given :evidence1:?]\n"
        ":evidence3: = Google[x]\nAnswer: :evidence2:"
    )
    first = plan.steps[0]
    assert first.raw_input == "Is [1 a valid list, given :evidence1:?"
    assert "unbalanced_brackets" in first.flags
    assert [s.id for s in plan.steps] == [2, 3]


def test_multi_line_input_stops_at_keywords():
    text = (
        ":evidence1: = TextScraper[https://a.example/x\n"
        "https://b.example/y\n]\n"
        "Plan: next\n:evidence2: = LLM[:evidence1:]\nAnswer: :evidence2:"
    )
    assert steps_of(text)[0][2] == "https://a.example/x\nhttps://b.example/y"
    assert [s[0] for s in steps_of(text)] == [1, 2]


def test_unclosed_multi_line_input_does_not_swallow_the_next_step():
    text = ":evidence1: = LLM[open\nstill open\n:evidence2: = Google[x]\nAnswer: :evidence2:"
    plan = parse_plan(text)
    assert [s.id for s in plan.steps] == [1, 2]
    assert plan.steps[0].truncated


@pytest.mark.parametrize(
    ("line", "expected", "flag"),
    [
        (':evidence0: = DuckDuckGo["foo bar"]', "foo bar", "quoted"),
        (":evidence0: = DuckDuckGo['foo bar']", "foo bar", "quoted"),
        (":evidence0: = DuckDuckGo[“foo bar”]", "foo bar", "quoted"),
        (':evidence0: = DuckDuckGo["foo" and "bar"]', '"foo" and "bar"', None),
    ],
)
def test_one_pair_of_outer_quotes_is_stripped(line, expected, flag):
    step = parse_plan(line).steps[0]
    assert step.raw_input == expected
    assert (flag in step.flags) if flag else step.flags == ()


def test_concatenation_is_joined_and_flagged():
    step = parse_plan(':evidence2: = LLM["What is " + :evidence1: + "?"]').steps[0]
    assert step.raw_input == "What is :evidence1:?"
    assert "concatenation" in step.flags
    assert compile_text(step.raw_input)[1] == Ref(1, "colon", ":evidence1:")


def test_empty_input_is_an_error():
    found = problems(":evidence0: = TextScraper[]\nAnswer: :evidence0:")
    assert found == ["line 1: :evidence0: calls TextScraper with an empty input"]
    assert valid(":evidence0: = TextScraper[ ]", allow_empty=["textscraper"]).order == (0,)


# --- 19, 20, 21, 22, 23: decoration, same-line plan, fences, prose ------------------------------


def test_markdown_decoration_is_stripped():
    text = (
        "Here is the plan:\n\n```text\n"
        "1. **Plan:** Search first.\n"
        "- `:evidence0: = DuckDuckGo[first query]`\n"
        "2. __Plan 2:__ Answer.\n"
        "* :evidence1: = KnowledgeModel[Q, given :evidence0:?]\n"
        "**Final Answer:** :evidence1:\n```\nThis plan works because…"
    )
    plan = parse_plan(text)
    assert [(s.id, s.tool, s.raw_input) for s in plan.steps] == [
        (0, "DuckDuckGo", "first query"),
        (1, "KnowledgeModel", "Q, given :evidence0:?"),
    ]
    assert [s.plan_text for s in plan.steps] == ["Search first.", "Answer."]
    assert plan.answer.kind == "ref"
    assert plan.ignored == ("Here is the plan:", "This plan works because...")  # NFKC


def test_plan_text_and_definition_on_one_line():
    plan = parse_plan(
        "Plan: Search for X. #E1 = Google[X]\nPlan: Ask. #E2 = LLM[about #E1]\nFinal answer: #E2"
    )
    assert [(s.id, s.tool, s.raw_input, s.plan_text) for s in plan.steps] == [
        (1, "Google", "X", "Search for X."),
        (2, "LLM", "about #E1", "Ask."),
    ]


def test_several_definitions_per_plan_and_no_plan_lines():
    plan = parse_plan(
        "Plan: look twice\n:evidence0: = Google[a]\n:evidence1: = Google[b]\n"
        ":evidence2: = LLM[:evidence0: :evidence1:]"
    )
    assert [s.plan_text for s in plan.steps] == ["look twice"] * 3
    assert [s.id for s in parse_plan(":evidence0: = Google[a]").steps] == [0]


def test_plan_text_continues_over_lines():
    plan = parse_plan("Plan: first part\nsecond part\n:evidence0: = Google[a]")
    assert plan.steps[0].plan_text == "first part second part"


# --- 24–28: answers -------------------------------------------------------------------------


def test_answer_template_with_several_refs():
    plan = valid(
        ":evidence2: = Google[a]\n:evidence4: = Google[b]\nAnswer: :evidence2:, per :evidence4:"
    )
    assert plan.answer.kind == "template"
    assert render(plan.answer.parts, {2: "X", 4: "Y"}) == "X, per Y"
    assert plan.order == (2, 4)


def test_answer_without_refs_is_ungrounded():
    plan = valid(":evidence0: = Google[a]\nAnswer: Paris")
    assert plan.answer.kind == "literal"
    assert plan.order == () and plan.pruned == (0,)
    assert any("ungrounded" in w for w in plan.warnings)


def test_missing_answer_defaults_to_last_definition():
    plan = valid(":evidence0: = Google[a]\n:evidence1: = LLM[:evidence0:]")
    assert plan.answer.kind == "ref" and plan.answer.parts == (Ref(1),)
    assert any("no answer line" in w for w in plan.warnings)


def test_answer_of_a_non_last_step_prunes_the_rest():
    plan = valid(
        ":evidence0: = Google[a]\n:evidence1: = LLM[:evidence0:]\n"
        ":evidence2: = Google[c]\n:evidence3: = LLM[:evidence2:]\nAnswer: :evidence1:"
    )
    assert plan.order == (0, 1) and plan.pruned == (2, 3)


def test_truncated_last_line_is_dropped_when_unused():
    plan = valid(
        ":evidence0: = Google[a]\n:evidence1: = LLM[:evidence0:]\n"
        "Answer: :evidence1:\n:evidence4: = TextScraper[:evid"
    )
    assert 4 not in plan.steps
    assert any("cut off" in w for w in plan.warnings)


def test_truncated_last_line_fails_when_needed():
    found = problems(":evidence0: = Google[a]\n:evidence1: = TextScraper[:evidence0")
    assert found == [
        "line 2: :evidence1: is cut off (no closing bracket) but the default answer "
        "(there is no answer line) need(s) it; regenerate with more max_tokens"
    ]
    found = problems(
        ":evidence0: = Google[a]\n:evidence1: = TextScraper[:evid\nAnswer: :evidence1:"
    )
    assert any(":evidence1: is cut off" in p and "the answer" in p for p in found)


def test_answer_on_the_next_line():
    plan = parse_plan(":evidence3: = Google[a]\nAnswer:\n\n:evidence3:")
    assert plan.answer.kind == "ref" and plan.answer.parts[0] == Ref(3, "colon", ":evidence3:")


# --- 29, 30, 31, 32: unicode noise, translated labels, caps, repeats -----------------------------


def test_crlf_tabs_nbsp_fullwidth_zero_width():
    text = (
        "Plan：\u00a0search\r\n:evidence0:\t=\u200b DuckDuckGo[ q ]\r\n"
        "Answer\uff1a :evi\u200bdence0:\r\n"
    )
    plan = parse_plan(text)
    assert [(s.id, s.tool, s.raw_input, s.plan_text) for s in plan.steps] == [
        (0, "DuckDuckGo", "q", "search")
    ]
    assert plan.answer.kind == "ref"


def test_translated_labels_are_configurable():
    text = "Plan: buscar\n:evidence0: = DuckDuckGo[x]\nRespuesta: :evidence0:"
    assert parse_plan(text).answer.kind == "missing"
    options = ParseOptions(answer_labels=("answer", "final answer", "respuesta"))
    assert parse_plan(text, options).answer.kind == "ref"


def test_step_and_id_caps_apply_before_execution():
    long_plan = "\n".join(f":evidence{i}: = Google[q{i}]" for i in range(40))
    found = problems(long_plan, limits=PlanLimits(max_steps=24))
    assert "the plan has 40 steps, over the cap of 24" in found[0]
    found = problems(":evidence99999: = Google[q]\nAnswer: :evidence99999:")
    assert found == ["line 1: id :evidence99999: is over the cap of 999"]
    huge = "9" * 5000
    found = problems(f":evidence{huge}: = Google[q]")
    assert "over the cap" in found[0]


def test_identical_steps_are_flagged_for_dedup():
    plan = valid(
        ":evidence0: = Google[x]\n:evidence1: = Google[x]\n"
        ":evidence2: = LLM[:evidence0: :evidence1:]"
    )
    assert any(":evidence1: repeats :evidence0:" in w for w in plan.warnings)


# --- substitution semantics -----------------------------------------------------------------


def test_hash_e1_never_clobbers_e10():
    parts = compile_text("compare #E10 and #E1 and :evidence1: and :evidence10:")
    assert render(parts, {1: "ONE", 10: "TEN"}) == "compare TEN and ONE and ONE and TEN"


def test_tool_output_is_not_expanded():
    parts = compile_text("use :evidence1: then #E2")
    out = render(parts, {1: "text with #E2 and :evidence2: inside", 2: "SECRET"})
    assert out == "use text with #E2 and :evidence2: inside then SECRET"


def test_hash_colours_and_words_are_not_refs():
    assert compile_text("colour #e1e1e1 and #Edward and x:evidence1:") == (
        "colour #e1e1e1 and #Edward and x:evidence1:",
    )


def test_all_problems_are_listed_together():
    text = (
        ":evidence0: = Nope[a]\n:evidence0: = Google[b]\n:evidence1: = TextScraper[]\n"
        ":evidence2: = LLM[:evidence9:]\nAnswer: :evidence2:"
    )
    found = problems(text)
    assert len(found) == 4
    assert [p.split(":")[0] for p in found] == ["line 1", "", "line 3", "line 4"]


def test_large_input_parses_quickly():
    block = CARD_PLAN + "\n"
    text = ("prose line " * 10 + "\n") * 1000 + block * 3
    assert len(text) > 100_000
    start = time.perf_counter()
    parse_plan(text * 2)
    assert time.perf_counter() - start < 1.0
