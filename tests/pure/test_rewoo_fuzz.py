"""Property tests: parse(render(plan)) == plan under surface noise; arbitrary text never crashes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airloom.errors import AirloomError, PlanError
from airloom.runtime.plan_ir import Ref
from airloom.runtime.rewoo.compile import compile_text, render
from airloom.runtime.rewoo.execute import execute_plan
from airloom.runtime.rewoo.parse import parse_plan
from airloom.runtime.rewoo.validate import validate_plan
from airloom.runtime.tools.registry import ToolRegistry

FAST = settings(max_examples=300, deadline=500, suppress_health_check=[HealthCheck.too_slow])

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789", min_size=1, max_size=8)
TOOL = st.builds(
    lambda head, tail: head + tail,
    st.from_regex(r"[A-Z][a-zA-Z0-9]{0,7}", fullmatch=True),
    st.sampled_from(["", " Search", "-Scraper", ".v2", "_x", " Model"]),
)


@dataclass(frozen=True)
class GenStep:
    id: int
    tool: str
    words: tuple[object, ...]  # str words, ("ref", id), ("nest", str) or ("nl",)


def render_input(words: tuple[object, ...], syntax: str) -> str:
    out = []
    for word in words:
        if isinstance(word, tuple) and word[0] == "ref":
            out.append(f"#E{word[1]}" if syntax == "hash" else f":evidence{word[1]}:")
        elif isinstance(word, tuple) and word[0] == "nest":
            out.append(f"[{word[1]}]")
        elif isinstance(word, tuple) and word[0] == "nl":
            out.append("\n")
        else:
            out.append(str(word))
    return " ".join(out).replace(" \n ", "\n")


@st.composite
def plans(draw):
    count = draw(st.integers(1, 8))
    start = draw(st.integers(0, 3))
    gaps = draw(st.lists(st.integers(1, 3), min_size=count, max_size=count))
    ids, current = [], start
    for gap in gaps:
        ids.append(current)
        current += gap
    steps = []
    for index, step_id in enumerate(ids):
        pieces = draw(
            st.lists(
                st.one_of(
                    WORD,
                    st.builds(lambda w: ("nest", w), WORD),
                    *([st.sampled_from([("ref", i) for i in ids[:index]])] if index else []),
                ),
                min_size=1,
                max_size=6,
            )
        )
        if draw(st.booleans()) and len(pieces) > 1:
            pieces.insert(draw(st.integers(1, len(pieces) - 1)), ("nl",))
        steps.append(GenStep(step_id, draw(TOOL), tuple(pieces)))
    return steps


@dataclass(frozen=True)
class Noise:
    syntax: str
    bullets: bool
    bold: bool
    crlf: bool
    fence: bool
    preamble: bool
    trailer: bool
    plan_lines: bool
    same_line: bool
    answer_label: str


NOISE = st.builds(
    Noise,
    syntax=st.sampled_from(["colon", "hash"]),
    bullets=st.booleans(),
    bold=st.booleans(),
    crlf=st.booleans(),
    fence=st.booleans(),
    preamble=st.booleans(),
    trailer=st.booleans(),
    plan_lines=st.booleans(),
    same_line=st.booleans(),
    answer_label=st.sampled_from(["Answer:", "Final answer:", "**Answer:**", "final Answer:"]),
)


def render_plan(steps: list[GenStep], noise: Noise) -> str:
    lines = ["Here is the plan:", ""] if noise.preamble else []
    if noise.fence:
        lines.append("```text")
    for number, step in enumerate(steps, 1):
        label = f"#E{step.id}" if noise.syntax == "hash" else f":evidence{step.id}:"
        definition = f"{label} = {step.tool}[{render_input(step.words, noise.syntax)}]"
        plan = f"{'**Plan:**' if noise.bold else 'Plan:'} do step {number}."
        if noise.plan_lines and noise.same_line:
            lines.append(f"{plan} {definition}")
            continue
        if noise.plan_lines:
            lines.append(f"{number}. {plan}" if noise.bullets else plan)
        lines.append(f"- {definition}" if noise.bullets else definition)
    last = steps[-1].id
    ref = f"#E{last}" if noise.syntax == "hash" else f":evidence{last}:"
    lines.append(f"{noise.answer_label} {ref}")
    if noise.fence:
        lines.append("```")
    if noise.trailer:
        lines += ["", "This plan answers the question."]
    return ("\r\n" if noise.crlf else "\n").join(lines)


@FAST
@given(plans(), NOISE)
def test_parse_of_render_gives_back_the_plan(steps, noise):
    text = render_plan(steps, noise)
    parsed = parse_plan(text)
    assert parsed.problems == ()
    assert [(s.id, s.tool, s.raw_input) for s in parsed.steps] == [
        (s.id, s.tool, render_input(s.words, noise.syntax)) for s in steps
    ]
    assert parsed.answer.kind == "ref"
    assert [p.id for p in parsed.answer.parts if isinstance(p, Ref)] == [steps[-1].id]
    if noise.plan_lines:
        assert [s.plan_text for s in parsed.steps] == [
            f"do step {n}." for n in range(1, len(steps) + 1)
        ]
    checked = validate_plan(parsed)
    assert set(checked.order) <= {s.id for s in steps}
    assert checked.order[-1] == steps[-1].id


@FAST
@given(st.text(max_size=2000))
def test_arbitrary_text_never_crashes_the_parser_or_validator(text):
    parsed = parse_plan(text)
    try:
        validate_plan(parsed, offered=["Search", "QA"])
    except PlanError as exc:
        assert exc.problems


PLANNISH = st.lists(
    st.sampled_from(
        [
            ":evidence",
            "#E",
            "#e",
            "0",
            "1",
            "12",
            "99999",
            ":",
            "=",
            " = ",
            "[",
            "]",
            "(",
            ")",
            "Plan:",
            "Answer:",
            "Final answer:",
            "\n",
            "\r\n",
            " ",
            "Search",
            "QA",
            "Text Scraper",
            '"',
            "'",
            "+",
            "```",
            "**",
            "- ",
            "1. ",
            ":evidence[n]:",
            "\u200b",
            "：",
            "［",
        ]
    ),
    max_size=120,
).map("".join)


@FAST
@given(PLANNISH)
def test_plan_shaped_noise_only_ever_raises_plan_errors(text):
    parsed = parse_plan(text)
    try:
        plan = validate_plan(parsed, offered=["Search", "QA", "Text Scraper"])
    except PlanError as exc:
        assert exc.problems
        return

    class Echo:
        name = "Echo"

        async def run(self, input, ctx):
            return f"<{input}>"

    registry = ToolRegistry({"search": Echo(), "qa": Echo()})
    registry.add(Echo(), role="scrape", names=["Text Scraper"])
    try:
        trace = asyncio.run(asyncio.wait_for(execute_plan(plan, registry), 5))
    except AirloomError:
        raise
    assert len(trace.steps) == len(plan.steps)


@settings(max_examples=300, deadline=200)
@given(st.text(max_size=300))
def test_compiled_parts_reassemble_the_original_text(text):
    parts = compile_text(text)
    assert "".join(p.raw if isinstance(p, Ref) else p for p in parts) == text


@settings(max_examples=200, deadline=200)
@given(
    st.dictionaries(st.integers(0, 30), PLANNISH, max_size=6),
    st.text(alphabet="abc XYZ?!.\n", max_size=100),
)
def test_rendering_inserts_values_verbatim_and_never_expands_them(values, prose):
    ids = sorted(values)
    text = prose + " " + " ".join(f"#E{i} :evidence{i}:" for i in ids)
    rendered = render(compile_text(text), values)
    assert rendered == prose + " " + " ".join(f"{values[i]} {values[i]}" for i in ids)
