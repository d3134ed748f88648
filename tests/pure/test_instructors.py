"""Instructors run against a fake round context: prompts, PLAINFORMAT, specs, templates, order."""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from airloom.config import DEFAULT_TOPIC_AVOIDANCE, InstructorConfig
from airloom.errors import ConfigError
from airloom.formats.chat import PLAINFORMAT
from airloom.instructors.base import (
    Draft,
    Instructor,
    PromptTemplate,
    Rejected,
    RoundContext,
    load_template,
)
from airloom.instructors.coding import CodingConfig, CodingInstructor
from airloom.instructors.contextual import (
    ContextualConfig,
    ContextualInstructor,
    choose_spec,
)
from airloom.instructors.engines import topic_lines
from airloom.instructors.general import GeneralInstructor
from airloom.instructors.registry import available_instructors, run_order
from tests.support.instructor_context import Call, FakeContext, Reply, run, settings_for


def task_list(n: int) -> str:
    return "\n".join(
        f"TSK {i}. Write program number {i} that sorts numbers." for i in range(1, n + 1)
    )


# ---- general ---------------------------------------------------------------------------
def test_general_round_prompt_tasks_and_topics() -> None:
    def reply(call: Call) -> str:
        if call.key == "tasks":
            return "Sure:\n" + task_list(5)  # more than batch_size: extra ones dropped
        return f"  answer to: {call.prompt}  "

    ctx = FakeContext(settings_for("general", InstructorConfig(), batch_size=3), reply)
    drafts = run(GeneralInstructor(ctx.settings), ctx)
    prompt = ctx.calls[0].prompt
    assert ' * instruction 1 must be related to topic: "volcanoes"' in prompt
    assert ' * instruction 3 must be related to topic: "tea"' in prompt
    assert "GLOBAL-AVOIDANCE" in prompt and "FLESCH-HINT" in prompt and "English" in prompt
    assert [d.instruction for d in drafts] == [
        f"Write program number {i} that sorts numbers." for i in (1, 2, 3)
    ]
    assert [d.topic for d in drafts] == ["volcanoes", "chess", "tea"]
    assert drafts[0].response == "answer to: Write program number 1 that sorts numbers."
    assert [c.key for c in ctx.calls].count("response") == 3


def test_general_skips_duplicates_and_rejects_unparseable() -> None:
    dup = "Write program number 2 that sorts numbers."
    ctx = FakeContext(
        settings_for("general", InstructorConfig(), batch_size=3),
        lambda call: task_list(3) if call.key == "tasks" else "ok",
        duplicates={dup},
    )
    drafts = run(GeneralInstructor(ctx.settings), ctx)
    assert [d.instruction for d in drafts] == [
        "Write program number 1 that sorts numbers.",
        "Write program number 3 that sorts numbers.",
    ]
    assert [d.topic for d in drafts] == ["volcanoes", "tea"]  # topics follow the task index
    bad = FakeContext(settings_for("general", InstructorConfig()), lambda call: "no list")
    assert run(GeneralInstructor(bad.settings), bad) == []
    assert bad.rejects and bad.rejects[0][0] == "unparseable"


def test_topic_lines_quote_topics() -> None:
    assert topic_lines("text", ['say "hi"', "ünï"]) == (
        ' * text 1 must be related to topic: "say \\"hi\\""\n'
        ' * text 2 must be related to topic: "ünï"'
    )


# ---- coding: PLAINFORMAT -------------------------------------------------------------
def coding_reply(call: Call) -> str:
    if call.key == "tasks":
        return task_list(4)
    if "Generate only the code" in call.prompt:
        return "Here you go:\n```python\nprint('plain')\n```\nEnjoy."
    return "```python\nprint('explained')\n```\nThis prints."


def coding_round(
    plain_ratio: float, seed: int, batch_size: int = 4
) -> tuple[list[Draft], FakeContext]:
    section = CodingConfig(plain_ratio=plain_ratio)
    ctx = FakeContext(
        settings_for("coding", section, batch_size=batch_size), coding_reply, seed=seed
    )
    return run(CodingInstructor(ctx.settings), ctx), ctx


@pytest.mark.parametrize("seed", range(5))
def test_plain_ratio_zero_never_plain(seed: int) -> None:
    drafts, ctx = coding_round(0.0, seed)
    assert len(drafts) == 4
    assert not any(d.instruction.endswith(PLAINFORMAT) for d in drafts)
    assert all(d.meta["plain"] is False for d in drafts)
    assert all(d.response.startswith("```python") for d in drafts)  # full answer kept
    responses = [c for c in ctx.calls if c.key == "response"]
    # code answers skip the pattern list (code matches it) but not the refusal openers
    assert all(c.filtered == "refusals" for c in responses)
    assert not any("Generate only the code" in c.prompt for c in responses)


@pytest.mark.parametrize("seed", range(5))
def test_plain_ratio_one_always_plain(seed: int) -> None:
    drafts, ctx = coding_round(1.0, seed)
    assert len(drafts) == 4
    for draft in drafts:
        assert draft.instruction.endswith(f" {PLAINFORMAT}")
        assert draft.response == "print('plain')"  # first fenced block only
        assert draft.dedup_text == draft.instruction.removesuffix(f" {PLAINFORMAT}")
        assert draft.meta["plain"] is True
    prompts = [c.prompt for c in ctx.calls if c.key == "response"]
    assert all(
        p.startswith("Write program number") and "Generate only the code" in p for p in prompts
    )


def test_plain_ratio_is_honoured_on_average() -> None:
    for ratio in (0.2, 0.8):
        flags = [d.meta["plain"] for seed in range(150) for d in coding_round(ratio, seed)[0]]
        share = sum(flags) / len(flags)
        assert abs(share - ratio) < 0.06, (ratio, share)


def test_plain_answer_without_code_is_rejected() -> None:
    def reply(call: Call) -> str:
        return task_list(1) if call.key == "tasks" else "```\n\n```"

    ctx = FakeContext(settings_for("coding", CodingConfig(plain_ratio=1.0), batch_size=1), reply)
    assert run(CodingInstructor(ctx.settings), ctx) == []
    assert ctx.rejects == [("unparseable", "empty code in a PLAINFORMAT answer")]


def test_coding_prompt_languages_and_software() -> None:
    section = CodingConfig(coding_languages=["rust", "zig", "ada"], related_software=["redis"])
    ctx = FakeContext(settings_for("coding", section, batch_size=3), coding_reply)
    run(CodingInstructor(ctx.settings), ctx)
    prompt = ctx.calls[0].prompt
    chosen = re.findall(r"- task \d should ask the user to use (\w+)", prompt)
    assert sorted(chosen) == ["ada", "rust", "zig"]  # without replacement
    assert "redis" not in prompt  # only when batch_size > 3
    ctx = FakeContext(settings_for("coding", section, batch_size=5), coding_reply)
    run(CodingInstructor(ctx.settings), ctx)
    prompt = ctx.calls[0].prompt
    assert len(re.findall(r"- task \d should ask the user to use", prompt)) == 5
    assert "interacting with redis" in prompt
    empty = CodingConfig(related_software=[])
    ctx = FakeContext(settings_for("coding", empty, batch_size=5), coding_reply)
    run(CodingInstructor(ctx.settings), ctx)  # no crash with an empty list (original bug)
    assert "interacting with" not in ctx.calls[0].prompt


# ---- contextual ------------------------------------------------------------------------
def test_choose_spec_distributions() -> None:
    config = ContextualConfig()
    n = 7000
    specs = [choose_spec(random.Random(seed), config, ["a", "b", "c", "d"]) for seed in range(n)]
    inputs = Counter(s.input_count for s in specs)
    assert set(inputs) == {1, 2, 3, 4}
    for value, expected in {1: 3 / 7, 2: 2 / 7, 3: 1 / 7, 4: 1 / 7}.items():
        assert abs(inputs[value] / n - expected) < 0.025, (value, inputs[value] / n)
    tasks = Counter(s.task_count for s in specs)
    for value, expected in {1: 1 / 2, 2: 1 / 3, 3: 1 / 6}.items():
        assert abs(tasks[value] / n - expected) < 0.025, (value, tasks[value] / n)
    for attribute, expected in (
        ("format_note", 0.2),
        ("source_note", 0.2),
        ("confounder_note", 0.1),
    ):
        share = sum(bool(getattr(s, attribute)) for s in specs) / n
        assert abs(share - expected) < 0.025, (attribute, share)
    with_refs = [s for s in specs if s.source_note]
    share = sum("references in" in s.source_note for s in with_refs) / len(with_refs)
    assert abs(share - 0.2) < 0.05  # a format for the references, within source requests
    multi = [s for s in specs if s.input_count > 1]
    cross = sum(s.reference_note != "The text blocks must not reference each other." for s in multi)
    assert abs(cross / len(multi) - 0.1) < 0.03
    displays = Counter(s.display_style for s in specs)
    assert len(displays) == 3 and min(displays.values()) / n > 0.28
    for spec in specs:
        assert len(spec.styles) == spec.input_count
        assert spec.topics == ["a", "b", "c", "d"][: spec.input_count]
        assert set(spec.styles) <= set(config.context_styles)
        if spec.input_count == 1:
            assert spec.target_selection == "the text block"
            assert spec.reference_note == "The text blocks must not reference each other."
        else:
            number = re.fullmatch(r"text block (\d)", spec.target_selection)
            assert number is None or 1 <= int(number.group(1)) <= spec.input_count


def test_choose_spec_is_deterministic_and_respects_empty_lists() -> None:
    config = ContextualConfig(context_styles=[], formatting_options=[])
    one = [choose_spec(random.Random(5), config, ["t"]) for _ in range(2)]
    assert one[0] == one[1]
    specs = [choose_spec(random.Random(s), config, ["t"] * 4) for s in range(300)]
    assert all(s.styles == [] and s.format_note == "" for s in specs)
    assert all("references in" not in s.source_note for s in specs)


CONTEXT = """BEGININPUT
BEGINCONTEXT
url: https://example.com/bridge
date: 2021-01-01
ENDCONTEXT
The old bridge of Lake Vara was rebuilt in 1923 by a guild of masons.
ENDINPUT
BEGININSTRUCTION
When was the bridge rebuilt? Cite your source.
ENDINSTRUCTION"""


def contextual_reply(answer: str) -> Reply:
    def reply(call: Call) -> str:
        if call.key.startswith("context:"):
            return CONTEXT if call.key != "context:1" else "BEGININPUT without the rest"
        return answer

    return reply


def test_contextual_round_validates_layout_and_citations() -> None:
    good = "In 1923.\n\nReference(s):\nurl: https://example.com/bridge"
    ctx = FakeContext(
        settings_for("contextual", ContextualConfig(), batch_size=2), contextual_reply(good)
    )
    drafts = run(ContextualInstructor(ctx.settings), ctx)
    assert [d.instruction for d in drafts] == [CONTEXT]
    assert drafts[0].response == good
    assert [r[0] for r in ctx.rejects] == ["unparseable"]
    response_prompt = next(c.prompt for c in ctx.calls if c.key == "response")
    assert CONTEXT in response_prompt and "FLESCH-HINT" in response_prompt

    bad = "In 1923.\n\nReference(s):\nurl: https://made-up.example/x"
    ctx = FakeContext(
        settings_for("contextual", ContextualConfig(), batch_size=1), contextual_reply(bad)
    )
    assert run(ContextualInstructor(ctx.settings), ctx) == []
    assert ctx.rejects[0][0] == "bad_citation"
    unchecked = ContextualConfig(check_citations=False)
    ctx = FakeContext(settings_for("contextual", unchecked, batch_size=1), contextual_reply(bad))
    assert len(run(ContextualInstructor(ctx.settings), ctx)) == 1


def test_contextual_topic_avoidance_falls_back_to_global() -> None:
    # The original read only a per-instructor key (spec §8.2 #17); ours falls back.
    instructor = ContextualInstructor(settings_for("contextual", ContextualConfig()))
    spec = choose_spec(random.Random(1), ContextualConfig(), ["a", "b", "c", "d"])
    prompt, digest = instructor._prompt(spec)
    assert "GLOBAL-AVOIDANCE" in prompt and len(digest) == 16
    own = ContextualInstructor(
        settings_for("contextual", ContextualConfig(topic_avoidance="OWN-AVOIDANCE"))
    )
    prompt, _ = own._prompt(spec)
    assert "OWN-AVOIDANCE" in prompt and "GLOBAL-AVOIDANCE" not in prompt
    assert "{" not in prompt.replace("{{", "")  # every placeholder filled


# ---- templates --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Write {n} tasks about {subject}.", "uses {subject}"),
        ('A JSON example: {"a": 1}', "prompt template my.txt"),
        ("Unclosed { brace", "not a valid format string"),
        ("Positional {} field", "not a valid format string"),
        ("Attribute {language.nope}", "not a valid format string"),
        ("Index {n[0]}", "not a valid format string"),
    ],
)
def test_template_render_errors_name_the_template(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        PromptTemplate("my.txt", text).render(n=3, language="English")
    assert "my.txt" in str(info.value)
    assert fragment in str(info.value)


def test_template_render_fills_and_ignores_extras() -> None:
    template = PromptTemplate("t", "Write {n} tasks in {language}; literal {{braces}}.")
    assert template.render(n=2, language="Welsh", unused=1) == (
        "Write 2 tasks in Welsh; literal {braces}."
    )
    assert template.digest == PromptTemplate("other", template.text).digest
    assert template.digest != PromptTemplate("t", template.text + " ").digest


def test_load_template_packaged_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = load_template("general.txt", None)
    assert packaged.name == "general.txt" and "{topics}" in packaged.text
    (tmp_path / "mine.txt").write_text("Mine: {language}", encoding="utf-8")
    relative = load_template("general.txt", "mine.txt", base_dir=tmp_path)
    assert relative.text == "Mine: {language}"
    absolute = load_template("general.txt", str(tmp_path / "mine.txt"))
    assert absolute.text == "Mine: {language}"
    monkeypatch.chdir(tmp_path)
    assert load_template("general.txt", "mine.txt").text == "Mine: {language}"  # cwd


def test_load_template_missing_override_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"prompt template nope\.txt does not exist") as info:
        load_template("general.txt", "nope.txt", base_dir=tmp_path)
    assert "prompt_path" in (info.value.hint or "")
    settings = settings_for(
        "general", InstructorConfig(response_prompt_path="missing_response.txt"), base_dir=tmp_path
    )
    with pytest.raises(ConfigError, match=r"missing_response\.txt"):
        settings.template("general.txt", response=True)


def test_override_template_with_unknown_placeholder_fails_the_round(tmp_path: Path) -> None:
    (tmp_path / "gen.txt").write_text("Tasks on {topics} in {dialect}", encoding="utf-8")
    settings = settings_for("general", InstructorConfig(prompt_path="gen.txt"), base_dir=tmp_path)
    ctx = FakeContext(settings, lambda call: task_list(3))
    with pytest.raises(ConfigError, match=r"gen\.txt uses \{dialect\}"):
        run(GeneralInstructor(settings), ctx)


def test_override_response_template_is_used(tmp_path: Path) -> None:
    # spec §4.0: the original ignored a configured response template.
    (tmp_path / "plain.txt").write_text("CUSTOM: {instruction}", encoding="utf-8")
    section = CodingConfig(plain_ratio=1.0, response_prompt_path="plain.txt")
    settings = settings_for("coding", section, batch_size=1, base_dir=tmp_path)
    ctx = FakeContext(settings, lambda call: task_list(1) if call.key == "tasks" else "x = 1")
    run(CodingInstructor(settings), ctx)
    assert ctx.calls[1].prompt == "CUSTOM: Write program number 1 that sorts numbers."


# ---- registry ---------------------------------------------------------------------------
def make(name: str, depends_on: tuple[str, ...] = ()) -> type[Instructor]:
    class Throwaway(Instructor):
        async def run_round(self, ctx: RoundContext) -> list[Draft]:
            return []

    Throwaway.name = name
    Throwaway.depends_on = depends_on
    return Throwaway


def test_run_order_waves_follow_dependencies() -> None:
    registry = {
        "writing": make("writing"),
        "editor": make("editor", ("writing",)),
        "stylized": make("stylized", ("editor", "general")),
        "general": make("general"),
        "card": make("card"),
    }
    assert run_order(["stylized", "editor", "writing", "general", "card"], registry) == [
        ["card", "general", "writing"],
        ["editor"],
        ["stylized"],
    ]
    # a registered dependency that is not enabled is ignored
    assert run_order(["editor"], registry) == [["editor"]]
    assert run_order([], registry) == []


def test_run_order_errors() -> None:
    cyclic = {"a": make("a", ("b",)), "b": make("b", ("c",)), "c": make("c", ("a",))}
    with pytest.raises(ConfigError, match="cycle"):
        run_order(["a", "b", "c"], cyclic)
    assert run_order(["a", "b"], cyclic) == [["b"], ["a"]]  # c disabled breaks the cycle
    unknown = {"a": make("a", ("ghost",))}
    with pytest.raises(ConfigError, match="unknown instructor 'ghost'"):
        run_order(["a"], unknown)


def test_builtin_registry() -> None:
    registry = available_instructors()
    assert {"general", "contextual", "coding"} <= set(registry)
    for name, cls in registry.items():
        assert cls.name == name and issubclass(cls, Instructor)
    assert run_order(["general", "coding", "contextual"]) == [["coding", "contextual", "general"]]


def test_topic_avoidance_default_mentions_the_original_subjects() -> None:
    for subject in ("climate change", "religion", "politics", "baking/cooking"):
        assert subject in DEFAULT_TOPIC_AVOIDANCE


def test_tasks_copied_from_the_prompt_are_rejected() -> None:
    """A weak teacher repeats the prompt's worked examples; those are not new tasks."""

    def reply(call: Call) -> str:
        if call.key == "tasks":
            return (
                "TSK 1. Implement a B*-tree in JavaScript with insert, delete and search.\n"
                "TSK 2. Write a terminal snake game in C++ using only the standard library.\n"
                "TSK 3. Write a Rust function that merges overlapping intervals."
            )
        return "fn main() {}"

    ctx = FakeContext(settings_for("coding", CodingConfig(plain_ratio=0.0), batch_size=2), reply)
    drafts = asyncio.run(CodingInstructor(ctx.settings).run_round(ctx))
    assert [d.instruction for d in drafts] == [
        "Write a Rust function that merges overlapping intervals."
    ]
    assert [reason for reason, _ in ctx.rejects] == ["copied_prompt", "copied_prompt"]


CONTEXT_PROMPT = (
    "Example:\nBEGININPUT\nBEGINCONTEXT\ndate: 1\nENDCONTEXT\n"
    "The night ferry carried 212 people.\nENDINPUT\nBEGININSTRUCTION\n"
    "How many people did the night ferry carry?\nENDINSTRUCTION"
)
BLOCK = "BEGININPUT\nBEGINCONTEXT\nurl: u\nENDCONTEXT\nText.\nENDINPUT\n"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("No blocks at all, sorry.", "unparseable"),
        (
            "BEGININPUT\nSome text.\nENDINPUT\nBEGININSTRUCTION\nWhat?\nENDINSTRUCTION",
            "unparseable",
        ),
        (BLOCK + "BEGININSTRUCTION\n\nENDINSTRUCTION", "unparseable"),
        (
            "BEGININPUT\nBEGINCONTEXT\nkey: value\nENDCONTEXT\nThe sky was blue.\nENDINPUT\n"
            "BEGININSTRUCTION\nWhat colour was the sky?\nENDINSTRUCTION",
            "placeholder",
        ),
        (
            "BEGININPUT\nBEGINCONTEXT\nurl: u\nENDCONTEXT\n[the text]\nENDINPUT\n"
            "BEGININSTRUCTION\nWhat?\nENDINSTRUCTION",
            "placeholder",
        ),
        (
            BLOCK + "BEGININSTRUCTION\nHow many people did the night ferry carry?\nENDINSTRUCTION",
            "copied_prompt",
        ),
        (
            "BEGININPUT\nBEGINCONTEXT\ndate: 2\nENDCONTEXT\n"
            "The night ferry carried 212 people.\nENDINPUT\n"
            "BEGININSTRUCTION\nHow many?\nENDINSTRUCTION",
            "copied_prompt",
        ),
    ],
)
def test_contextual_generation_rejects(text: str, reason: str) -> None:
    from airloom.instructors.contextual import canonical_instruction

    with pytest.raises(Rejected) as info:
        canonical_instruction(text, CONTEXT_PROMPT)
    assert info.value.reason == reason


def test_contextual_layout_drift_is_repaired_canonically() -> None:
    from airloom.formats.closed_context import parse_closed_context
    from airloom.instructors.contextual import canonical_instruction

    drifted = (
        "Here you go:\n\nbegininput\nBEGINCONTEXT\nurl: https://x.org/a\nENDCONTEXT\n"
        "Lake Vara froze in 1911.\nENDINPUT\nBEGININSTRUCTION\nWhen did Lake Vara freeze?"
    )
    out = canonical_instruction(drifted, CONTEXT_PROMPT)
    parsed = parse_closed_context(out, strict=True)
    assert parsed.blocks[0].metadata == {"url": "https://x.org/a"}
    assert parsed.instruction == "When did Lake Vara freeze?"
